#include "fit.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include "check.h"
#include "objective.h"
#include "search.h"
#include "seeds.h"
#include "validation.h"

namespace rootopt::tuner {
namespace {

// Floor of the guard's limits (RMS error): bf16's unit roundoff 2^-8. Where an anchor converges
// far below it on a group (Polar Express with 6 steps reaches 1e-3 on Marchenko-Pastur and
// low-rank spectra under Schatten-8; with 8 steps 1e-10), matching it would take more than a
// schedule with a safety margin on every step can give, and a difference below bf16's
// resolution never shows in training; above it, the limit is relative.
constexpr double kGuardFloor = kBf16UnitRoundoff;

// p(x) = (15 x - 10 x^3 + 3 x^5) / 8: p(1) = 1, p'(1) = 0 (coefficients.md: Polar Express's
// last step).
constexpr QuinticStep kPolishingStep{1.875, -1.25, 0.375};

std::vector<Spectrum> normalized_all(const std::vector<Spectrum>& spectra,
                                     Normalization normalization) {
  std::vector<Spectrum> out;
  out.reserve(spectra.size());
  for (const Spectrum& s : spectra) out.push_back(normalized(s, normalization));
  return out;
}

// The guard's reference: the anchor with the lowest fitting objective among every built-in as
// deployed (5 steps, Frobenius, standard form: what the bars compare against) and Polar Express
// with 5 steps under the tuned normalisation (the ablation), and its error on each group
// (compressed like the objective, so the guard compares like with like). One anchor for all
// groups, so the guard reads "no family and no captured model does worse than under the best
// anchor" and, at 5 steps or more, is feasible (that anchor is a start point of the search).
std::vector<double> anchor_group_errors(Shape shape, const FitSpectra& fit,
                                        const SpectralObjective& tuned_objective,
                                        const TuneOptions& options) {
  const SpectralObjective deployed(fit.spectra, fit.groups, fit.group_weights,
                                   options.search.points_per_spectrum);
  SpectralObjective::Evaluation best, e;
  best.value = std::numeric_limits<double>::infinity();
  for (const std::string& name : compared_builtins()) {
    if (!builtin_is_published_for(name, shape)) continue;
    deployed.evaluate(builtin_schedule(name, shape, kDeployedSteps).steps(), false, e);
    if (e.value < best.value) best = e;
  }
  tuned_objective.evaluate(builtin_schedule("polar-express", shape, kDeployedSteps).steps(), false,
                           e);
  if (e.value < best.value) best = e;
  return best.group_values;
}

}  // namespace

FitSpectra sample_fit_spectra(Shape shape, const TuneOptions& options) {
  // Groups: each family of the mixture, a family with sources (captured: one per model) split
  // into them with equal shares of its weight, as its own sampling picks a source first.
  std::vector<std::pair<std::shared_ptr<const SpectrumFamily>, double>> groups;
  for (const auto& [family, weight] : options.mixture->components()) {
    const auto parts = family->sources();
    if (parts.empty()) groups.emplace_back(family, weight);
    for (const auto& part : parts) groups.emplace_back(part, weight / double(parts.size()));
  }
  double total = 0;
  for (const auto& group : groups) total += group.second;
  FitSpectra fit;
  const uint64_t seed = derive_seed(options.seed, shape, SeedStream::fit);
  for (size_t g = 0; g < groups.size(); ++g) {
    const auto& [family, weight] = groups[g];
    const int64_t count =
        std::max<int64_t>(1, std::llround(double(options.samples) * weight / total));
    const uint64_t group_seed = detail::derive_seed(seed, g);
    for (int64_t i = 0; i < count; ++i) {
      fit.spectra.push_back(family->sample(shape, detail::derive_seed(group_seed, uint64_t(i))));
      fit.groups.push_back(int64_t(g));
    }
    fit.group_weights.push_back(weight);
    fit.group_names.push_back(family->spec());
  }
  return fit;
}

FittedSchedule fit_schedule(Shape shape, Normalization normalization, int64_t steps,
                            const FitSpectra& fit, const TuneOptions& options,
                            const Schedule* shorter, const std::atomic<bool>* cancel) {
  const SpectralObjective objective(normalized_all(fit.spectra, normalization), fit.groups,
                                    fit.group_weights, options.search.points_per_spectrum);
  const SafetyConstraints constraints(options.search.constraint_grid, steps);
  SearchProblem problem{{options.mode, steps, 1.0 + options.search.safety_margin},
                        &objective,
                        &constraints,
                        options.envelope_bound,
                        {},
                        cancel};
  if (options.search.guard > 0) {
    problem.guard_limits = anchor_group_errors(shape, fit, objective, options);
    for (double& limit : problem.guard_limits)
      limit = std::max(limit * options.search.guard, kGuardFloor);
  }
  auto starts = start_points(
      problem.parameterization, shape, options.search,
      detail::derive_seed(derive_seed(options.seed, shape, SeedStream::starts), uint64_t(steps)));
  if (shorter && shorter->size() + 1 == steps) {
    // The K-1 fit, then a step that only polishes values near 1: its map sends 1 to 1 with zero
    // slope (Newton-Schulz's own quintic, Polar Express's last step), designed like every step.
    std::vector<QuinticStep> warm = shorter->steps();
    warm.push_back(with_input_scale(kPolishingStep, problem.parameterization.safety));
    starts.insert(starts.begin(), problem.parameterization.params_of(Schedule("warm", warm)));
  }
  const SearchOutcome outcome = search_schedule(
      problem, options.search, starts,
      detail::derive_seed(derive_seed(options.seed, shape, SeedStream::search), uint64_t(steps)));
  FittedSchedule out;
  out.found = outcome.found;
  out.normalization = normalization;
  out.stored = outcome.stored;
  out.fit_rms = outcome.objective;
  out.guard_excess = outcome.guard_excess;
  out.safety = outcome.safety;
  out.evaluations = outcome.evaluations;
  out.method_failures = outcome.method_failures;
  return out;
}

}  // namespace rootopt::tuner
