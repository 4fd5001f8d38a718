#include "provenance.h"

#include <fmt/format.h>

#include "report_fields.h"
#include "rootopt/version.h"
#include "sha256.h"

namespace rootopt::audit {

std::vector<std::pair<std::string, std::string>> audit_provenance(const ProvenanceInputs& in) {
  const AuditOptions& o = in.options;
  std::vector<std::pair<std::string, std::string>> p;
  p.emplace_back("rootopt_version", ROOTOPT_VERSION);
  p.emplace_back("model_file", o.model_path);
  p.emplace_back("model_sha256", sha256_file(o.model_path));
  p.emplace_back("model_name", in.model.name);
  p.emplace_back("model_type", in.model.model_type);
  if (in.schedules.table()) {
    p.emplace_back("table_file", o.table_path);
    p.emplace_back("table_sha256", sha256_file(o.table_path));
    for (const auto& [key, value] : in.schedules.table()->attributes())
      p.emplace_back("table." + key, value);
  }
  std::string names;
  for (const std::string& name : in.schedules.names()) names += (names.empty() ? "" : ",") + name;
  p.emplace_back("schedules", names);
  p.emplace_back("builtin_steps", std::to_string(in.schedules.builtin_steps()));
  p.emplace_back("cost", kCostDefinition);
  p.emplace_back("envelope_bound", fmt::format("{}", in.envelope_bound));
  p.emplace_back("envelope_bound_source", o.envelope_bound > 0  ? "option"
                                          : in.bound_from_table ? "table attribute"
                                                                : "default");
  if (o.matrices_path.empty()) {
    p.emplace_back("spectra", "sampled: " + in.mixture.describe());
    p.emplace_back("samples", std::to_string(o.samples));
    p.emplace_back("matrix_samples", std::to_string(o.matrix_samples));
  } else {
    p.emplace_back("spectra", "user matrices");
    p.emplace_back("matrices_file", o.matrices_path);
    p.emplace_back("matrices_sha256", sha256_file(o.matrices_path));
  }
  p.emplace_back("seed", std::to_string(o.seed));
  p.emplace_back("precision", to_string(o.precision));
  p.emplace_back("proxy_rank", std::to_string(o.proxy_rank));
  p.emplace_back("polar_reference", "fp64 SVD (LAPACK)");
  return p;
}

}  // namespace rootopt::audit
