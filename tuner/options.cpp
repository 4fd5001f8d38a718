// TuneOptions: validation of user-settable values, defaults, mode names.
#include <algorithm>
#include <cmath>

#include "check.h"
#include "rootopt/tuner.h"

namespace rootopt {
namespace {

// Throws InvalidTuneOption(field, message) when `ok` is false.
template <typename... Parts>
void require(bool ok, const char* field, const Parts&... parts) {
  if (!ok) throw InvalidTuneOption(field, detail::concat(parts...));
}

}  // namespace

TuneMode parse_tune_mode(const std::string& text) {
  if (text == "per-step") return TuneMode::per_step;
  if (text == "shared") return TuneMode::shared;
  throw InvalidTuneOption("mode", "unknown tuning mode '" + text + "' (per-step, shared)");
}

std::string to_string(TuneMode mode) { return mode == TuneMode::shared ? "shared" : "per-step"; }

void TuneOptions::validate() const {
  const RecipeSpace& r = recipes;
  require(r.steps >= 0 && r.steps <= kMaxTuneSteps, "steps", "step count K = ", r.steps,
          " is outside [1, ", kMaxTuneSteps, "] (0: chosen within the budget)");
  require(!r.normalizations.empty(), "normalizations", "no normalization to tune for");
  for (Normalization n : r.normalizations)
    require(n != Normalization::aol, "normalizations",
            "normalization 'aol' changes the singular vectors and cannot be tuned for");
  require(!r.forms.empty(), "forms", "no iteration form to tune for");
  require(std::isfinite(r.budget) && r.budget > 0 && r.budget <= kMaxBudget, "budget",
          "cost budget ", r.budget, " is outside (0, ", kMaxBudget,
          "] (relative to Polar Express, 5 standard steps in bf16)");
  require(samples >= 1 && samples <= kMaxTuneSamples, "samples", "fitting sample count ", samples,
          " is outside [1, ", kMaxTuneSamples, "]");
  require(heldout_samples >= 1 && heldout_samples <= kMaxTuneSamples, "heldout_samples",
          "held-out sample count ", heldout_samples, " is outside [1, ", kMaxTuneSamples, "]");
  require(std::isfinite(envelope_bound) && envelope_bound >= 1.0 && envelope_bound <= 16,
          "envelope_bound", "envelope bound ", envelope_bound,
          " is outside [1, 16] (the composed map must be able to reach 1)");
  require(mixture && !mixture->components().empty(), "mixture", "no spectrum families to fit to");
  require(search.random_starts >= 0 && search.random_starts <= kMaxRandomStarts, "random_starts",
          "random start count ", search.random_starts, " is outside [0, ", kMaxRandomStarts, "]");
  require(std::isfinite(search.perturbation) && search.perturbation >= 0 && search.perturbation < 1,
          "perturbation", "start perturbation ", search.perturbation, " is outside [0, 1)");
  require(search.local_max_evals >= 1 && search.local_max_evals <= kMaxSearchEvaluations &&
              search.global_max_evals >= 1 && search.global_max_evals <= kMaxSearchEvaluations,
          "max_evals", "search evaluation budgets must be in [1, ", kMaxSearchEvaluations,
          "], got ", search.local_max_evals, " (local) and ", search.global_max_evals, " (global)");
  require(std::isfinite(search.safety_margin) && search.safety_margin >= 0 &&
              search.safety_margin <= 0.1,
          "safety_margin", "safety margin ", search.safety_margin, " is outside [0, 0.1]");
  require(std::isfinite(search.guard) && search.guard >= 0 && search.guard <= 10, "guard",
          "over-fitting guard ", search.guard, " is outside [0, 10] (0: off)");
  require(search.constraint_grid >= 8 && search.constraint_grid <= 100000, "constraint_grid",
          "constraint grid of ", search.constraint_grid, " points is outside [8, 100000]");
  require(search.points_per_spectrum >= 1 && search.points_per_spectrum <= 100000,
          "points_per_spectrum", "points per spectrum ", search.points_per_spectrum,
          " is outside [1, 100000]");
  require(validation.matrices >= 0 && validation.matrices <= kMaxValidationMatrices &&
              validation.selection_matrices >= 0 &&
              validation.selection_matrices <= kMaxValidationMatrices,
          "validation_matrices", "validation matrix counts ", validation.selection_matrices,
          " (selection) and ", validation.matrices, " (report) must be in [0, ",
          kMaxValidationMatrices, "]");
  require(validation.max_rank >= 2 && validation.max_rank <= kMaxProxyRank, "validation_max_rank",
          "validation proxy rank ", validation.max_rank, " is outside [2, ", kMaxProxyRank, "]");
}

TuneOptions default_tune_options() {
  TuneOptions options;
  options.mixture = std::make_shared<SpectrumMixture>(SpectrumMixture::default_mixture());
  options.heldout_real = make_family("captured:set=heldout");
  return options;
}

std::vector<std::string> compared_builtins() { return builtin_schedule_names(); }

std::string builtin_metric_prefix(const std::string& builtin) {
  std::string prefix = builtin;
  std::replace(prefix.begin(), prefix.end(), '-', '_');
  return prefix + "_";
}

}  // namespace rootopt
