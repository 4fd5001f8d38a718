// One shape: sample fitting spectra, search under the safety constraints, then evaluate the
// result and the built-in schedules on the same held-out spectra and matrices.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <limits>

#include "check.h"
#include "constraints.h"
#include "objective.h"
#include "parameterization.h"
#include "rootopt/tuner.h"
#include "search.h"
#include "seeds.h"
#include "validation.h"

namespace rootopt {
namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

// The built-ins the quality bar compares against (issue 3): Muon, Polar Express and the ROOT
// paper where it published a triple for the shape.
const char* const kRatioBaselines[] = {"muon", "polar-express", "root-paper"};

void throw_if_cancelled(const std::atomic<bool>* cancel) {
  if (cancel && cancel->load()) throw Cancelled("tuning cancelled");
}

// Ratio of the tuned error to the best published baseline's, for one metric suffix.
double ratio_to_best_baseline(const std::map<std::string, double>& m, const std::string& suffix) {
  double best = std::numeric_limits<double>::infinity();
  for (const char* name : kRatioBaselines) {
    const double v = m.at(builtin_metric_prefix(name) + suffix);
    if (std::isfinite(v)) best = std::min(best, v);
  }
  return std::isfinite(best) && best > 0 ? m.at(suffix) / best : kNaN;
}

}  // namespace

TunedShape tune_shape(Shape shape, const TuneOptions& options, const std::atomic<bool>* cancel) {
  const auto start = std::chrono::steady_clock::now();
  options.validate();
  shape = shape.canonical();
  ROOTOPT_CHECK(shape.rows >= 1, "cannot tune shape ", to_string(shape));

  const std::vector<Spectrum> fit = options.mixture->sample_many(
      shape, tuner::derive_seed(options.seed, shape, tuner::SeedStream::fit), options.samples);
  throw_if_cancelled(cancel);
  const tuner::SpectralObjective objective(fit, options.search.points_per_spectrum);
  const tuner::SafetyConstraints constraints(options.search.constraint_grid, options.steps);
  const tuner::SearchProblem problem{
      {options.mode, options.steps, 1.0 + options.search.safety_margin},
      &objective,
      &constraints,
      options.envelope_bound,
      cancel};
  const auto starts =
      tuner::start_points(problem.parameterization, shape, options.search,
                          tuner::derive_seed(options.seed, shape, tuner::SeedStream::starts));
  const tuner::SearchOutcome outcome =
      tuner::search_schedule(problem, options.search, starts,
                             tuner::derive_seed(options.seed, shape, tuner::SeedStream::search));

  TunedShape result;
  result.shape = shape;
  result.recipe.schedule =
      problem.parameterization.schedule(outcome.x, "tuned-" + to_string(shape));
  auto& m = result.metrics;
  m["fit_rms"] = tuner::mean_rms(result.recipe.schedule, fit);
  // The stored (deployed) schedule's own envelope, comparable with the built-ins' columns; the
  // designed schedule's envelope bounds the deployed map under per-step relative perturbations up
  // to the safety margin (SearchOptions::safety_margin).
  const Envelope deployed = envelope(result.recipe.schedule);
  m["envelope"] = deployed.max_value;
  m["envelope_min"] = deployed.min_value;
  m["designed_envelope"] = outcome.safety.envelope.max_value;
  m["step_min"] = outcome.safety.step_min;
  m["search_evaluations"] = double(outcome.evaluations);
  throw_if_cancelled(cancel);

  const tuner::HeldoutSpectra heldout = tuner::heldout_spectra(shape, options);
  tuner::add_spectral_metrics("", result.recipe.schedule, heldout, m);
  std::vector<std::pair<std::string, Schedule>> baselines;
  for (const std::string& name : compared_builtins()) {
    const std::string prefix = builtin_metric_prefix(name);
    if (!builtin_is_published_for(name, shape)) {
      for (const char* column :
           {"heldout_rms", "heldout_real_rms", "envelope", "fp32_matrix_rms", "bf16_matrix_rms"})
        m[prefix + column] = kNaN;
      continue;
    }
    const Schedule schedule = builtin_schedule(name, shape, options.steps);
    tuner::add_spectral_metrics(prefix, schedule, heldout, m);
    m[prefix + "envelope"] = envelope(schedule).max_value;
    baselines.emplace_back(prefix, schedule);
  }
  m["heldout_ratio"] = ratio_to_best_baseline(m, "heldout_rms");
  m["heldout_real_ratio"] = ratio_to_best_baseline(m, "heldout_real_rms");
  throw_if_cancelled(cancel);

  if (options.validation.enabled && options.validation.matrices > 0) {
    const tuner::MatrixValidation validation = tuner::prepare_matrix_validation(shape, options);
    m["validation_rows"] = double(validation.proxy.rows);
    m["validation_cols"] = double(validation.proxy.cols);
    tuner::add_matrix_metrics("", result.recipe.schedule, validation, m);
    for (const auto& [prefix, schedule] : baselines) {
      throw_if_cancelled(cancel);
      tuner::add_matrix_metrics(prefix, schedule, validation, m);
    }
  }
  m["tune_seconds"] =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return result;
}

}  // namespace rootopt
