// Speed of the tuner's parts (docs/results/tuner.md):
//   - objective evaluation with gradient (128 spectra compressed to 128 points, 5 steps), the
//     inner loop of the search; the full-spectrum held-out evaluation as its baseline;
//   - the search for one shape (multistart + SLSQP, per-step) with each local method;
//   - one (normalisation, K) fit, the unit the recipe search repeats;
//   - the emulated-bf16 comparison of every candidate recipe of a shape on the selection
//     matrices, and the SVD ground truth of a matrix set;
//   - one whole shape at budget 1 (fits, selection, report).
#include <benchmark/benchmark.h>

#include "candidates.h"
#include "constraints.h"
#include "fit.h"
#include "objective.h"
#include "rootopt/tuner.h"
#include "search.h"
#include "validation.h"

namespace rootopt {
namespace {

const Shape kShape{1024, 4096};  // Llama-3-8B k_proj/v_proj

const TuneOptions& options() {
  static const TuneOptions o = default_tune_options();
  return o;
}

const tuner::FitSpectra& fit_spectra() {
  static const tuner::FitSpectra s = tuner::sample_fit_spectra(kShape, options());
  return s;
}

std::vector<Spectrum> normalized_fit_spectra() {
  std::vector<Spectrum> out;
  for (const Spectrum& s : fit_spectra().spectra)
    out.push_back(normalized(s, Normalization::schatten8));
  return out;
}

void BM_ObjectiveWithGradient(benchmark::State& state) {
  const auto& fit = fit_spectra();
  const tuner::SpectralObjective objective(fit.spectra, fit.groups, fit.group_weights,
                                           state.range(0));
  const auto steps = builtin_schedule("polar-express", kShape, 5).steps();
  tuner::SpectralObjective::Evaluation e;
  for (auto _ : state) {
    objective.evaluate(steps, true, e);
    benchmark::DoNotOptimize(e.value);
  }
  state.counters["points"] = double(objective.points());
}
BENCHMARK(BM_ObjectiveWithGradient)->Arg(32)->Arg(128)->Arg(512)->Unit(benchmark::kMicrosecond);

// Baseline: the same spectra at full rank (1024 values), value only, via spectral_error.
void BM_FullSpectrumError(benchmark::State& state) {
  const Recipe recipe = builtin_recipe("polar-express", kShape, 5);
  for (auto _ : state) benchmark::DoNotOptimize(tuner::mean_rms(recipe, fit_spectra().spectra));
}
BENCHMARK(BM_FullSpectrumError)->Unit(benchmark::kMicrosecond);

void BM_ConstraintsWithGradient(benchmark::State& state) {
  const tuner::SafetyConstraints constraints(state.range(0), 5);
  const auto steps = builtin_schedule("polar-express", kShape, 5).steps();
  std::vector<double> c(size_t(constraints.count())), g(size_t(constraints.count() * 15));
  for (auto _ : state)
    constraints.evaluate(steps, {kDefaultEnvelopeBound, 1e-6}, c.data(), g.data());
}
BENCHMARK(BM_ConstraintsWithGradient)->Arg(256)->Unit(benchmark::kMicrosecond);

// One search, 5 steps, Schatten-8, no guard; arg 0: 0 multistart + SLSQP, 1 multistart +
// COBYLA, 2 ISRES (4000 evaluations) + SLSQP polish; arg 1: random starts.
void BM_Search(benchmark::State& state) {
  SearchOptions search;
  search.local = state.range(0) == 1 ? "cobyla" : "slsqp";
  search.global = state.range(0) == 2 ? "isres" : "multistart";
  search.random_starts = state.range(1);
  if (search.local == "cobyla") search.local_max_evals = 2000;
  const tuner::SpectralObjective objective(normalized_fit_spectra(), fit_spectra().groups,
                                           fit_spectra().group_weights, search.points_per_spectrum);
  const tuner::SafetyConstraints constraints(search.constraint_grid, 5);
  const tuner::SearchProblem problem{
      {TuneMode::per_step, 5, 1.01}, &objective, &constraints, 1.3, {}, nullptr};
  const auto starts = tuner::start_points(problem.parameterization, kShape, search, 7);
  tuner::SearchOutcome best;
  for (auto _ : state) best = tuner::search_schedule(problem, search, starts, 7);
  Recipe tuned(best.stored);
  tuned.normalization = Normalization::schatten8;
  state.counters["fit_rms"] = best.objective;
  state.counters["heldout_rms"] =
      tuner::mean_rms(tuned, options().mixture->sample_many(kShape, 99, 256));
  state.counters["evaluations"] = double(best.evaluations);
}
BENCHMARK(BM_Search)
    ->Args({0, 0})
    ->Args({0, 2})
    ->Args({0, 8})
    ->Args({1, 0})
    ->Args({2, 0})
    ->Unit(benchmark::kSecond)
    ->Iterations(1);

// One (Schatten-8, K) fit as the recipe search runs it (guard on, warm start from K - 1).
void BM_Fit(benchmark::State& state) {
  const int64_t k = state.range(0);
  const tuner::FittedSchedule shorter = tuner::fit_schedule(
      kShape, Normalization::schatten8, k - 1, fit_spectra(), options(), nullptr, nullptr);
  tuner::FittedSchedule fitted;
  for (auto _ : state)
    fitted = tuner::fit_schedule(kShape, Normalization::schatten8, k, fit_spectra(), options(),
                                 &shorter.stored, nullptr);
  state.counters["fit_rms"] = fitted.fit_rms;
  state.counters["evaluations"] = double(fitted.evaluations);
}
BENCHMARK(BM_Fit)->Arg(5)->Arg(7)->Arg(9)->Unit(benchmark::kSecond)->Iterations(1);

// Every candidate recipe of the shape at budget 1, run in emulated bf16 on the selection
// matrices (rank-256 proxy 256x1024); the schedules are placeholders of the right length.
void BM_CandidateSelection(benchmark::State& state) {
  const auto candidates = tuner::candidate_recipes(kShape, options().recipes);
  const tuner::MatrixSet set =
      tuner::prepare_matrix_set(kShape, options(), tuner::SeedStream::selection_matrices,
                                options().validation.selection_matrices);
  for (auto _ : state)
    for (const tuner::Candidate& c : candidates)
      benchmark::DoNotOptimize(tuner::matrix_rms(c.recipe, set, Precision::bf16));
  state.counters["candidates"] = double(candidates.size());
}
BENCHMARK(BM_CandidateSelection)->Unit(benchmark::kMillisecond)->Iterations(1);

// The SVD ground truth of one matrix set (4 polar factors) at proxy rank 128 / 256.
void BM_SvdGroundTruth(benchmark::State& state) {
  TuneOptions o = options();
  o.validation.max_rank = state.range(0);
  for (auto _ : state)
    benchmark::DoNotOptimize(tuner::prepare_matrix_set(
        kShape, o, tuner::SeedStream::report_matrices, o.validation.matrices));
}
BENCHMARK(BM_SvdGroundTruth)->Arg(128)->Arg(256)->Unit(benchmark::kMillisecond);

// One whole shape with the defaults (budget 1, Schatten-8): fits, selection, report.
void BM_TuneShape(benchmark::State& state) {
  TunedShape r;
  for (auto _ : state) r = tune_shape(kShape, options());
  state.counters["fit_s"] = r.metrics.at("fit_seconds");
  state.counters["selection_s"] = r.metrics.at("selection_seconds");
  state.counters["candidates"] = r.metrics.at("candidates");
}
BENCHMARK(BM_TuneShape)->Unit(benchmark::kSecond)->Iterations(1);

}  // namespace
}  // namespace rootopt

BENCHMARK_MAIN();
