// Speed of the tuner's parts (docs/results/tuner.md):
//   - objective evaluation with gradient (128 spectra compressed to 128 points, 5 steps), the
//     inner loop of the search; the full-spectrum held-out evaluation as its baseline;
//   - the search for one shape (multistart + SLSQP, per-step) with each local method;
//   - the SVD validation of one shape (3 proxy matrices, rank 256: SVD polar factors, then
//     fp32 and bf16 Newton-Schulz for the tuned schedule and 4 built-ins).
#include <benchmark/benchmark.h>

#include "constraints.h"
#include "objective.h"
#include "rootopt/tuner.h"
#include "search.h"
#include "validation.h"

namespace rootopt {
namespace {

const Shape kShape{1024, 4096};  // Llama-3-8B k_proj/v_proj

std::shared_ptr<const SpectrumMixture> mixture() {
  static const auto m = std::make_shared<SpectrumMixture>(SpectrumMixture::default_mixture());
  return m;
}

const std::vector<Spectrum>& fit_spectra() {
  static const auto s = mixture()->sample_many(kShape, 1, 128);
  return s;
}

void BM_ObjectiveWithGradient(benchmark::State& state) {
  const tuner::SpectralObjective objective(fit_spectra(), state.range(0));
  const auto steps = builtin_schedule("polar-express", kShape, 5).steps();
  std::vector<double> grad(15);
  for (auto _ : state) benchmark::DoNotOptimize(objective.value(steps, grad.data()));
  state.counters["points"] = double(objective.points());
}
BENCHMARK(BM_ObjectiveWithGradient)->Arg(32)->Arg(128)->Arg(512)->Unit(benchmark::kMicrosecond);

// Baseline: the same 128 spectra at full rank (1024 values), value only, via spectral_error.
void BM_FullSpectrumError(benchmark::State& state) {
  const Schedule schedule = builtin_schedule("polar-express", kShape, 5);
  for (auto _ : state) benchmark::DoNotOptimize(tuner::mean_rms(schedule, fit_spectra()));
}
BENCHMARK(BM_FullSpectrumError)->Unit(benchmark::kMicrosecond);

void BM_ConstraintsWithGradient(benchmark::State& state) {
  const tuner::SafetyConstraints constraints(state.range(0), 5);
  const auto steps = builtin_schedule("polar-express", kShape, 5).steps();
  std::vector<double> c(size_t(constraints.count())), g(size_t(constraints.count() * 15));
  for (auto _ : state) constraints.evaluate(steps, {1.3, 1e-6}, c.data(), g.data());
}
BENCHMARK(BM_ConstraintsWithGradient)->Arg(256)->Unit(benchmark::kMicrosecond);

// One shape's search; arg 0: 0 multistart + SLSQP, 1 multistart + COBYLA, 2 ISRES (4000
// evaluations) + SLSQP polish; arg 1: random starts.
void BM_Search(benchmark::State& state) {
  SearchOptions options;
  options.local = state.range(0) == 1 ? "cobyla" : "slsqp";
  options.global = state.range(0) == 2 ? "isres" : "multistart";
  options.random_starts = state.range(1);
  if (options.local == "cobyla") options.local_max_evals = 2000;
  const tuner::SpectralObjective objective(fit_spectra(), options.points_per_spectrum);
  const tuner::SafetyConstraints constraints(options.constraint_grid, 5);
  const tuner::SearchProblem problem{
      {TuneMode::per_step, 5}, &objective, &constraints, 1.3, nullptr};
  const auto starts = tuner::start_points(problem.parameterization, kShape, options, 7);
  tuner::SearchOutcome best;
  for (auto _ : state) best = tuner::search_schedule(problem, options, starts, 7);
  const auto heldout = mixture()->sample_many(kShape, 99, 256);
  state.counters["fit_rms"] = best.objective;
  state.counters["heldout_rms"] =
      tuner::mean_rms(problem.parameterization.schedule(best.x, "tuned"), heldout);
  state.counters["evaluations"] = double(best.evaluations);
}
BENCHMARK(BM_Search)
    ->Args({0, 0})
    ->Args({0, 2})
    ->Args({0, 8})
    ->Args({1, 2})
    ->Args({2, 0})
    ->Unit(benchmark::kSecond)
    ->Iterations(1);

// SVD validation of one shape on rank-256 proxies (1024x4096 -> 256x1024).
void BM_SvdValidation(benchmark::State& state) {
  TuneOptions options = default_tune_options();
  options.validation.max_rank = state.range(0);
  const Schedule tuned = builtin_schedule("you", kShape, 5);
  for (auto _ : state) {
    const tuner::MatrixValidation v = tuner::prepare_matrix_validation(kShape, options);
    std::map<std::string, double> metrics;
    for (const std::string& name : compared_builtins())
      tuner::add_matrix_metrics(builtin_metric_prefix(name), builtin_schedule(name, kShape, 5), v,
                                metrics);
    tuner::add_matrix_metrics("", tuned, v, metrics);
    benchmark::DoNotOptimize(metrics);
  }
}
BENCHMARK(BM_SvdValidation)->Arg(128)->Arg(256)->Unit(benchmark::kMillisecond);

// Only the SVD ground truth (3 polar factors), for the split inside BM_SvdValidation.
void BM_SvdGroundTruthOnly(benchmark::State& state) {
  TuneOptions options = default_tune_options();
  options.validation.max_rank = state.range(0);
  for (auto _ : state) benchmark::DoNotOptimize(tuner::prepare_matrix_validation(kShape, options));
}
BENCHMARK(BM_SvdGroundTruthOnly)->Arg(128)->Arg(256)->Unit(benchmark::kMillisecond);

}  // namespace
}  // namespace rootopt

BENCHMARK_MAIN();
