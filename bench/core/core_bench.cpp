// Core benchmarks. Run: build/bench/core/core_bench --benchmark_min_time=0.1
// (figures in docs/results/core.md). Baselines measured in the same run: fp64 Newton-Schulz for
// the fp32 / bf16 runs, Eigen's BDCSVD for the LAPACK polar factor.
#include <benchmark/benchmark.h>

#include <Eigen/SVD>

#include "rootopt/matrix_reference.h"
#include "rootopt/spectrum_family.h"

namespace rootopt {
namespace {

const Shape kMatrixShape{1024, 4096};

const Eigen::MatrixXd& test_matrix() {
  static const Eigen::MatrixXd m =
      matrix_with_spectrum(kMatrixShape, make_family("power-law")->sample(kMatrixShape, 1), 2);
  return m;
}

// One Marchenko-Pastur spectrum of 4096 values and the 5-step Polar Express schedule.
struct SpectralInput {
  Spectrum s = make_family("marchenko-pastur")->sample({4096, 8192}, 1);
  Schedule schedule = builtin_schedule("polar-express", {4096, 8192});
};

void BM_SpectralApply4096(benchmark::State& state) {
  const SpectralInput in;
  for (auto _ : state) benchmark::DoNotOptimize(apply_schedule(in.schedule, in.s));
  state.SetItemsProcessed(state.iterations() * int64_t(in.s.size()));
}
BENCHMARK(BM_SpectralApply4096);

void BM_SpectralError4096(benchmark::State& state) {
  const SpectralInput in;
  for (auto _ : state) benchmark::DoNotOptimize(spectral_error(in.schedule, in.s));
  state.SetItemsProcessed(state.iterations() * int64_t(in.s.size()));
}
BENCHMARK(BM_SpectralError4096);

void BM_Envelope(benchmark::State& state) {
  const Schedule schedule = builtin_schedule("root-paper", {2048, 2048});
  for (auto _ : state) benchmark::DoNotOptimize(envelope(schedule));
}
BENCHMARK(BM_Envelope)->Unit(benchmark::kMillisecond);

// Newton-Schulz on the CPU, 1024 x 4096, state.range(0) steps, in the given precision.
void BM_NewtonSchulz(benchmark::State& state, Precision precision) {
  const Schedule schedule = builtin_schedule("muon", kMatrixShape, state.range(0));
  const Eigen::MatrixXd& b = test_matrix();
  for (auto _ : state) benchmark::DoNotOptimize(newton_schulz(b, schedule, precision));
}
BENCHMARK_CAPTURE(BM_NewtonSchulz, fp64, Precision::fp64)->Arg(1)->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(BM_NewtonSchulz, fp32, Precision::fp32)
    ->Arg(1)
    ->Arg(5)
    ->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(BM_NewtonSchulz, bf16, Precision::bf16)->Arg(1)->Unit(benchmark::kMillisecond);

// SVD ground truth: polar factor of a 1024 x 4096 matrix.
void BM_PolarLapack(benchmark::State& state) {
  const auto solver = make_cpu_polar_solver();
  for (auto _ : state) benchmark::DoNotOptimize(solver->polar(test_matrix()));
}
BENCHMARK(BM_PolarLapack)->Unit(benchmark::kMillisecond)->UseRealTime();

void BM_PolarEigenBdcsvd(benchmark::State& state) {
  for (auto _ : state) {
    const Eigen::BDCSVD<Eigen::MatrixXd> svd(test_matrix(),
                                             Eigen::ComputeThinU | Eigen::ComputeThinV);
    benchmark::DoNotOptimize(Eigen::MatrixXd(svd.matrixU() * svd.matrixV().transpose()));
  }
}
BENCHMARK(BM_PolarEigenBdcsvd)->Unit(benchmark::kMillisecond)->UseRealTime();

}  // namespace
}  // namespace rootopt
BENCHMARK_MAIN();
