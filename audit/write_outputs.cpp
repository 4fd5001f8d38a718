// write_audit_outputs and check_audit_output_directory (audit.h): csv, json and plot, staged
// next to the target directory and moved in only when all of them were written.
#include <fstream>

#include "check.h"
#include "plot.h"
#include "rootopt/audit.h"
#include "staging_directory.h"

namespace rootopt {
namespace {

void write_text(const std::filesystem::path& path, const std::string& text) {
  std::ofstream out(path, std::ios::binary);
  out << text;
  out.close();
  ROOTOPT_CHECK(out, "cannot write ", path.string());
}

}  // namespace

void check_audit_output_directory(const std::string& directory) {
  audit::StagingDirectory probe(directory);  // removed again on destruction
}

std::vector<std::string> write_audit_outputs(const AuditReport& report,
                                             const AuditOutputOptions& options,
                                             const std::function<void(const std::string&)>& warn) {
  audit::StagingDirectory staging(options.directory);
  std::vector<std::string> files{"audit.csv", "audit.json"};
  write_text(staging.path("audit.csv"), audit_csv(report));
  write_text(staging.path("audit.json"), audit_json(report));
  const auto say = [&warn](const std::string& text) {
    if (warn) warn(text);
  };
  const std::vector<std::string> plots{"audit.svg", "audit-cost.svg"};
  if (options.plot &&
      audit::plot_audit({options.python, staging.path("audit.json").string(),
                         staging.path(plots[0]).string(), staging.path(plots[1]).string()},
                        say))
    files.insert(files.end(), plots.begin(), plots.end());
  else  // a failed plot run may have written one of them: move in both or none
    for (const std::string& plot : plots) {
      std::error_code ignored;  // a file that was never written
      std::filesystem::remove(staging.path(plot), ignored);
    }
  staging.commit(plots);
  for (std::string& file : files) file = (std::filesystem::path(options.directory) / file).string();
  return files;
}

}  // namespace rootopt
