// Provenance attributes of a tuned table, and the compatibility check of --resume: a table may
// only be continued with the settings that produced its finished shapes.
#include <sstream>

#include "check.h"
#include "rootopt/tuner.h"
#include "rootopt/version.h"
#include "utc_time.h"
#include "validation.h"

namespace rootopt {
namespace {

std::string search_description(const SearchOptions& s) {
  return detail::concat(s.global, " + ", s.local, " (random_starts=", s.random_starts,
                        ", perturbation=", s.perturbation, ", local_max_evals=", s.local_max_evals,
                        ", global_max_evals=", s.global_max_evals,
                        ", constraint_grid=", s.constraint_grid,
                        ", points_per_spectrum=", s.points_per_spectrum,
                        ", safety_margin=", s.safety_margin, ", guard=", s.guard, ")");
}

template <typename T, typename Name>
std::string join(const std::vector<T>& items, Name name) {
  std::string out;
  for (const T& item : items) out += (out.empty() ? "" : ",") + name(item);
  return out;
}

// Attributes that must agree for --resume: everything that changes a shape's result. The rest
// (version, creation time, tool, descriptions derived from these) is informational.
const char* const kResumeKeys[] = {
    "steps",   "normalizations", "forms",   "precision_tails", "budget",
    "mode",    "seed",           "samples", "heldout_samples", "envelope_bound",
    "mixture", "heldout_real",   "search",  "validation"};

}  // namespace

std::map<std::string, std::string> tuning_attributes(const TuneOptions& options) {
  const RecipeSpace& r = options.recipes;
  std::map<std::string, std::string> a;
  a["rootopt_version"] = ROOTOPT_VERSION;
  a["created"] = detail::utc_now();
  a["tool"] = "rootopt tune";
  a["seed"] = std::to_string(options.seed);
  a["steps"] = r.steps > 0 ? std::to_string(r.steps) : "searched";
  a["normalizations"] =
      join(r.normalizations, [](Normalization n) { return rootopt::to_string(n); });
  a["forms"] = join(r.forms, [](IterationForm f) { return rootopt::to_string(f); });
  a["precision_tails"] = r.precision_tails ? "tf32,fp32" : "none";
  a["budget"] = detail::concat(r.budget);
  a["cost_model"] =
      "GEMM flops relative to Polar Express (5 standard steps, frobenius, bf16) at the same "
      "shape, GPU profile (bf16 1, tf32 2, fp32 15 per flop), docs/recipes.md";
  a["mode"] = to_string(options.mode);
  a["samples"] = std::to_string(options.samples);
  a["heldout_samples"] = std::to_string(options.heldout_samples);
  a["envelope_bound"] = detail::concat(options.envelope_bound);
  a["mixture"] = options.mixture->describe();
  a["heldout_real"] = options.heldout_real ? options.heldout_real->spec() : "none";
  a["objective"] =
      "sum over groups of fitting spectra (mixture families) of weight times mean RMS "
      "orthogonality error sqrt(mean_i (p(s_i) - 1)^2), s normalised as the recipe says, p the "
      "composed quintic map; constraints: 0 <= p <= envelope_bound on [0, 1], every step's map "
      ">= 0 on its input range, every group's error <= guard times the best anchor's";
  a["precision"] =
      "fit: fp64 spectral; selection: emulated bf16 matrix iterations on selection matrices "
      "(fitting mixture only); "
      "report: fp32 and emulated bf16 on fresh matrices, against an fp64 SVD polar factor";
  a["search"] = search_description(options.search);
  a["validation"] = options.validation.enabled
                        ? detail::concat(options.validation.selection_matrices, " selection and ",
                                         options.validation.matrices,
                                         " report matrices per shape, proxy rank <= ",
                                         options.validation.max_rank,
                                         "; safety: every candidate refused whose largest bf16 "
                                         "output singular value on low-rank or captured (fit, "
                                         "Haar and coherent) inputs exceeds envelope_bound * "
                                         "(1 + 2^-8), or exceeds the exact map's by more than ",
                                         tuner::kExcessFactor, "x Polar Express's excess")
                        : "disabled";
  return a;
}

void check_resume_compatible(const CoefficientTable& table, const TuneOptions& options,
                             const std::string& path) {
  const std::map<std::string, std::string> wanted = tuning_attributes(options);
  for (const char* key : kResumeKeys) {
    const auto it = table.attributes().find(key);
    ROOTOPT_CHECK(it != table.attributes().end(), path,
                  ": cannot resume: table lacks the provenance attribute '", key,
                  "' (not written by this version of rootopt tune?)");
    ROOTOPT_CHECK(it->second == wanted.at(key), path, ": cannot resume: table has ", key, " = '",
                  it->second, "', this run has '", wanted.at(key), "'");
  }
}

}  // namespace rootopt
