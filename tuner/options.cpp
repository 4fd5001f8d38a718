// TuneOptions: validation of user-settable values, defaults, mode names.
#include <cmath>

#include "check.h"
#include "rootopt/tuner.h"

namespace rootopt {
namespace {

// Bounds that reject absurd requests early with a clear message (a run with more would take
// hours and is almost certainly a typo).
constexpr int64_t kMaxSteps = 20;
constexpr int64_t kMaxSamples = 100000;

}  // namespace

TuneMode parse_tune_mode(const std::string& text) {
  if (text == "per-step") return TuneMode::per_step;
  if (text == "shared") return TuneMode::shared;
  ROOTOPT_FAIL("unknown tuning mode '", text, "' (per-step, shared)");
}

std::string to_string(TuneMode mode) { return mode == TuneMode::shared ? "shared" : "per-step"; }

void TuneOptions::validate() const {
  ROOTOPT_CHECK(steps >= 1 && steps <= kMaxSteps, "--steps must be in [1, ", kMaxSteps, "], got ",
                steps);
  ROOTOPT_CHECK(samples >= 1 && samples <= kMaxSamples, "--samples must be in [1, ", kMaxSamples,
                "], got ", samples);
  ROOTOPT_CHECK(heldout_samples >= 1 && heldout_samples <= kMaxSamples,
                "held-out samples must be in [1, ", kMaxSamples, "], got ", heldout_samples);
  ROOTOPT_CHECK(std::isfinite(envelope_bound) && envelope_bound >= 1.0,
                "--envelope must be a finite number >= 1 (the composed map must be able to reach "
                "1), got ",
                envelope_bound);
  ROOTOPT_CHECK(mixture && !mixture->components().empty(), "no spectrum families to fit to");
  ROOTOPT_CHECK(search.random_starts >= 0, "random_starts = ", search.random_starts);
  ROOTOPT_CHECK(search.perturbation >= 0 && search.perturbation < 1,
                "perturbation = ", search.perturbation);
  ROOTOPT_CHECK(search.local_max_evals >= 1 && search.global_max_evals >= 1,
                "search evaluation budgets must be positive");
  ROOTOPT_CHECK(std::isfinite(search.safety_margin) && search.safety_margin >= 0 &&
                    search.safety_margin <= 0.1,
                "--safety-margin must be in [0, 0.1], got ", search.safety_margin);
  ROOTOPT_CHECK(search.constraint_grid >= 8, "constraint_grid = ", search.constraint_grid);
  ROOTOPT_CHECK(search.points_per_spectrum >= 1,
                "points_per_spectrum = ", search.points_per_spectrum);
  ROOTOPT_CHECK(validation.matrices >= 0, "validation matrices = ", validation.matrices);
  ROOTOPT_CHECK(validation.max_rank >= 2 && validation.max_rank <= kMaxProxyRank,
                "validation proxy rank must be in 2..", kMaxProxyRank, ", got ",
                validation.max_rank);
}

TuneOptions default_tune_options() {
  TuneOptions options;
  options.mixture = std::make_shared<SpectrumMixture>(SpectrumMixture::default_mixture());
  options.heldout_real = make_family("captured:set=heldout");
  return options;
}

std::vector<std::string> compared_builtins() {
  return {"muon", "polar-express", "you", "root-paper"};
}

std::string builtin_metric_prefix(const std::string& builtin) {
  std::string prefix = builtin;
  for (char& c : prefix)
    if (c == '-') c = '_';
  return prefix + "_";
}

}  // namespace rootopt
