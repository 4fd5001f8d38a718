// One shape: sample the fitting spectra, fit a schedule per (normalisation, K) the candidate
// recipes need, choose the candidate with the lowest emulated-bf16 error on the selection
// matrices, then report it and the built-ins on fresh held-out spectra and matrices.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <limits>

#include "candidates.h"
#include "check.h"
#include "fit.h"
#include "rootopt/tuner.h"
#include "seeds.h"
#include "validation.h"

namespace rootopt {
namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
// Prefix of the ablation columns: Polar Express under the chosen recipe's normalisation.
const char* const kSameNormPrefix = "polar_express_same_norm_";

void throw_if_cancelled(const std::atomic<bool>* cancel) {
  if (cancel && cancel->load()) throw Cancelled("tuning cancelled");
}

// Ratio of the tuned value to the best deployed anchor's (every compared built-in where
// published), for one metric suffix.
double ratio_to_best_anchor(const std::map<std::string, double>& m, const std::string& suffix) {
  double best = std::numeric_limits<double>::infinity();
  for (const std::string& name : compared_builtins()) {
    const double v = m.at(builtin_metric_prefix(name) + suffix);
    if (std::isfinite(v)) best = std::min(best, v);
  }
  return std::isfinite(best) && best > 0 ? m.at(suffix) / best : kNaN;
}

struct Choice {
  size_t index = 0;                  // into the candidates
  double selection_bf16 = kNaN;      // its mean bf16 error on the selection matrices
  double best_standard_bf16 = kNaN;  // the best standard-form candidate's
};

// Lowest bf16 error on the selection matrices among the safe candidates; ties (equal errors) go
// to the cheaper recipe. Without matrix validation: lowest fitting objective, then cheapest
// (forms, restarts and tails are equal in exact arithmetic).
Choice choose(const std::vector<tuner::Candidate>& candidates, const std::vector<double>& fit_rms,
              const std::vector<bool>& safe, const tuner::MatrixSet* selection,
              const std::atomic<bool>* cancel) {
  Choice choice;
  double best_key = std::numeric_limits<double>::infinity();
  bool first = true;
  for (size_t i = 0; i < candidates.size(); ++i) {
    throw_if_cancelled(cancel);
    if (!safe[i]) continue;
    const tuner::Candidate& c = candidates[i];
    const double error =
        selection ? tuner::matrix_rms(c.recipe, *selection, Precision::bf16) : fit_rms[i];
    const double key = std::isfinite(error) ? error : std::numeric_limits<double>::infinity();
    if (first || key < best_key || (key == best_key && c.cost < candidates[choice.index].cost)) {
      first = false;
      best_key = key;
      choice.index = i;
      choice.selection_bf16 = selection ? error : kNaN;
    }
    if (selection && c.recipe.form == IterationForm::standard &&
        !(error >= choice.best_standard_bf16))
      choice.best_standard_bf16 = error;
  }
  return choice;
}

double seconds_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

}  // namespace

TunedShape tune_shape(Shape shape, const TuneOptions& options, const std::atomic<bool>* cancel) {
  const auto start = std::chrono::steady_clock::now();
  options.validate();
  shape = shape.canonical();
  ROOTOPT_CHECK(shape.rows >= 1, "cannot tune shape ", to_string(shape));

  std::vector<tuner::Candidate> candidates = tuner::candidate_recipes(shape, options.recipes);
  if (candidates.empty()) tuner::check_some_candidate(shape, options.recipes);

  // Fit once per (normalisation, K): forms, restarts and tails are the same map in exact
  // arithmetic.
  const tuner::FitSpectra fit = tuner::sample_fit_spectra(shape, options);
  throw_if_cancelled(cancel);
  std::map<std::pair<Normalization, int64_t>, tuner::FittedSchedule> fits;
  int64_t evaluations = 0, failures = 0;
  std::vector<double> fit_rms;
  // Candidates come sorted by (normalisation, K), so each K can warm-start from the K - 1 fit.
  for (tuner::Candidate& c : candidates) {
    const auto key = std::make_pair(c.recipe.normalization, c.recipe.steps());
    auto it = fits.find(key);
    if (it == fits.end()) {
      const auto shorter = fits.find({key.first, key.second - 1});
      it = fits.emplace(key, tuner::fit_schedule(
                                 shape, key.first, key.second, fit, options,
                                 shorter == fits.end() ? nullptr : &shorter->second.stored, cancel))
               .first;
      evaluations += it->second.evaluations;
      failures += it->second.method_failures;
    }
    if (!it->second.found) continue;
    c.recipe.schedule = Schedule("tuned-" + to_string(shape), it->second.stored.steps());
    fit_rms.push_back(it->second.fit_rms);
  }
  // Candidates whose (normalisation, K) found no safe schedule drop out (e.g. 3 steps within a
  // tight envelope bound).
  candidates.erase(
      std::remove_if(candidates.begin(), candidates.end(),
                     [&fits](const tuner::Candidate& c) {
                       return !fits.at({c.recipe.normalization, c.recipe.steps()}).found;
                     }),
      candidates.end());
  ROOTOPT_CHECK(!candidates.empty(), "tuning ", to_string(shape),
                ": no start point led to a schedule within the envelope bound ",
                options.envelope_bound, " for any candidate recipe");
  throw_if_cancelled(cancel);
  const double fit_seconds = seconds_since(start);

  const bool matrices = options.validation.enabled;
  // Safety in bf16 (docs/tuner.md): every candidate runs on low-rank and captured inputs; one
  // whose largest output singular value leaves the envelope, or whose rounding adds more to it
  // than the anchor's does (excess_limit), is refused, whatever its error.
  std::vector<bool> safe(candidates.size(), true);
  std::vector<std::string> refused;
  double chosen_max_singular_value = kNaN, chosen_excess = kNaN, allowed_excess = kNaN;
  std::vector<tuner::SafetyCheck> checks(candidates.size());
  const double safety_limit = options.envelope_bound * (1 + tuner::kSafetyTolerance);
  if (matrices) {
    const tuner::SafetySet safety = tuner::prepare_safety_set(shape, options);
    allowed_excess =
        tuner::excess_limit(tuner::check_safety(builtin_recipe("polar-express", shape), safety));
    for (size_t i = 0; i < candidates.size(); ++i) {
      throw_if_cancelled(cancel);
      const tuner::SafetyCheck& c = checks[i] = tuner::check_safety(candidates[i].recipe, safety);
      const bool bounded = c.max_singular_value <= safety_limit;
      safe[i] = bounded && c.max_excess <= allowed_excess;
      if (!bounded)
        refused.push_back(detail::concat(candidates[i].recipe.describe(),
                                         ": largest singular value ", c.max_singular_value,
                                         " in bf16 on a ", c.worst_input, " input at ",
                                         to_string(safety.proxy), " > ", safety_limit));
      else if (!safe[i])
        refused.push_back(detail::concat(candidates[i].recipe.describe(),
                                         ": bf16 rounding raised the largest singular value by ",
                                         c.max_excess, " on a ", c.excess_input, " input at ",
                                         to_string(safety.proxy), " > ", allowed_excess, " (",
                                         tuner::kExcessFactor, "x Polar Express's)"));
    }
  }
  ROOTOPT_CHECK(std::find(safe.begin(), safe.end(), true) != safe.end(), "tuning ",
                to_string(shape), ": every candidate recipe was unstable in bf16 on low-rank or ",
                "captured inputs (", refused.empty() ? std::string() : refused.front(), ")",
                std::count(options.recipes.forms.begin(), options.recipes.forms.end(),
                           IterationForm::standard) == 0
                    ? "; the Gram form is unstable in bf16 with tuned steps (docs/tuner.md), "
                      "--form standard or auto includes the standard form"
                    : "");
  tuner::MatrixSet selection;
  if (matrices && std::count(safe.begin(), safe.end(), true) > 1)
    selection = tuner::prepare_matrix_set(shape, options, tuner::SeedStream::selection_matrices,
                                          options.validation.selection_matrices);
  const bool select_on_matrices = matrices && !selection.matrices.empty();
  const Choice choice =
      choose(candidates, fit_rms, safe, select_on_matrices ? &selection : nullptr, cancel);
  const tuner::Candidate& chosen = candidates[choice.index];
  if (matrices) {
    chosen_max_singular_value = checks[choice.index].max_singular_value;
    chosen_excess = checks[choice.index].max_excess;
  }
  const double selection_seconds = seconds_since(start) - fit_seconds;
  const tuner::FittedSchedule& fitted =
      fits.at({chosen.recipe.normalization, chosen.recipe.steps()});

  TunedShape result;
  result.shape = shape;
  result.recipe = chosen.recipe;
  auto& m = result.metrics;
  m["cost"] = chosen.cost;
  m["candidates"] = double(candidates.size());
  m["candidates_refused"] = double(refused.size());
  m["safety_max_singular_value"] = chosen_max_singular_value;
  m["safety_bf16_excess"] = chosen_excess;
  m["safety_bf16_excess_limit"] = allowed_excess;
  result.refused = std::move(refused);
  m["fit_rms"] = fitted.fit_rms;
  m["guard_excess"] = fitted.guard_excess;
  // The stored schedule's own envelope, comparable with the built-ins' columns; the designed
  // schedule's envelope bounds the deployed map under per-step relative perturbations up to the
  // safety margin (SearchOptions::safety_margin).
  const Envelope deployed = envelope(result.recipe.schedule);
  m["envelope"] = deployed.max_value;
  m["envelope_min"] = deployed.min_value;
  m["designed_envelope"] = fitted.safety.envelope.max_value;
  m["step_min"] = fitted.safety.step_min;
  m["search_evaluations"] = double(evaluations);
  m["search_failures"] = double(failures);
  m["selection_bf16_rms"] = choice.selection_bf16;
  m["best_standard_selection_bf16_rms"] = choice.best_standard_bf16;
  m["polar_express_selection_bf16_rms"] =
      select_on_matrices
          ? tuner::matrix_rms(builtin_recipe("polar-express", shape), selection, Precision::bf16)
          : kNaN;
  throw_if_cancelled(cancel);

  const tuner::HeldoutSpectra heldout = tuner::heldout_spectra(shape, options);
  tuner::add_spectral_metrics("", result.recipe, heldout, m);
  std::vector<std::pair<std::string, Recipe>> baselines;
  for (const std::string& name : compared_builtins()) {
    const std::string prefix = builtin_metric_prefix(name);
    if (!builtin_is_published_for(name, shape)) {
      for (const char* column :
           {"heldout_rms", "heldout_real_rms", "envelope", "fp32_matrix_rms", "bf16_matrix_rms"})
        m[prefix + column] = kNaN;
      continue;
    }
    const Recipe recipe = builtin_recipe(name, shape, kDeployedSteps);
    tuner::add_spectral_metrics(prefix, recipe, heldout, m);
    m[prefix + "envelope"] = envelope(recipe.schedule).max_value;
    baselines.emplace_back(prefix, recipe);
  }
  Recipe same_norm = builtin_recipe("polar-express", shape, kDeployedSteps);
  same_norm.normalization = result.recipe.normalization;
  tuner::add_spectral_metrics(kSameNormPrefix, same_norm, heldout, m);
  baselines.emplace_back(kSameNormPrefix, same_norm);
  m["heldout_ratio"] = ratio_to_best_anchor(m, "heldout_rms");
  m["heldout_real_ratio"] = ratio_to_best_anchor(m, "heldout_real_rms");
  throw_if_cancelled(cancel);

  if (matrices && options.validation.matrices > 0) {
    const tuner::MatrixSet report = tuner::prepare_matrix_set(
        shape, options, tuner::SeedStream::report_matrices, options.validation.matrices);
    m["validation_rows"] = double(report.proxy.rows);
    m["validation_cols"] = double(report.proxy.cols);
    tuner::add_matrix_metrics("", result.recipe, report, m);
    for (const auto& [prefix, recipe] : baselines) {
      throw_if_cancelled(cancel);
      tuner::add_matrix_metrics(prefix, recipe, report, m);
    }
    m["fp32_matrix_ratio"] = ratio_to_best_anchor(m, "fp32_matrix_rms");
    m["bf16_matrix_ratio"] = ratio_to_best_anchor(m, "bf16_matrix_rms");
  }
  m["fit_seconds"] = fit_seconds;
  m["selection_seconds"] = selection_seconds;
  m["tune_seconds"] = seconds_since(start);
  return result;
}

}  // namespace rootopt
