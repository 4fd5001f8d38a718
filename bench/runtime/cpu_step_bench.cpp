// CPU ROOT step per shape (fp32 and bf16-emulated Newton-Schulz) next to the floor measured in
// the same run: the step's GEMMs alone (K x {X X^T as a symmetric rank update, A A, P X} with
// Eigen, fp32, the calls the CPU backend makes), and the soft-threshold quantile alone. See
// docs/results/runtime-cpu.md for numbers and the command.
#include <benchmark/benchmark.h>

#include <Eigen/Core>
#include <random>
#include <string>
#include <vector>

#include "cpu/soft_threshold.h"
#include "rootopt/optimizer.h"

namespace {

constexpr int64_t kSteps = 5;  // Newton-Schulz steps per ROOT step

std::vector<float> random_values(int64_t count, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<float> normal(0.0f, 1e-2f);
  std::vector<float> v(static_cast<size_t>(count));
  for (float& x : v) x = normal(rng);
  return v;
}

// GEMM flops of one ROOT step on a rows x cols matrix (r = min, c = max), counting X X^T as a
// full product (the symmetric rank update does about half of them).
double gemm_flops(int64_t rows, int64_t cols) {
  const double r = double(std::min(rows, cols)), c = double(std::max(rows, cols));
  return double(kSteps) * (2 * r * r * c + 2 * r * r * r + 2 * r * r * c);
}

void BM_CpuStep(benchmark::State& state) {
  const int64_t rows = state.range(0), cols = state.range(1);
  rootopt::OptimizerConfig config;  // no table: Polar Express for every shape
  config.warn = [](const std::string&) {};
  config.hyperparams.lr = 1e-6f;
  config.hyperparams.precision =
      state.range(2) == 16 ? rootopt::Precision::bf16 : rootopt::Precision::fp32;
  rootopt::Optimizer opt(config);
  std::vector<float> param = random_values(rows * cols, 1), grad = random_values(rows * cols, 2);
  rootopt::ParamSpec spec;
  spec.name = "w";
  spec.rows = rows;
  spec.cols = cols;
  spec.param = param.data();
  spec.grad = grad.data();
  opt.add_param(spec);
  for (auto _ : state) {
    opt.step();
    benchmark::DoNotOptimize(param.data());
  }
  state.counters["GFLOP/s"] = benchmark::Counter(gemm_flops(rows, cols) * 1e-9,
                                                 benchmark::Counter::kIsIterationInvariantRate);
}

// The floor: the same GEMM calls as the CPU backend, in fp32, nothing else.
void BM_GemmFloor(benchmark::State& state) {
  using Matrix = Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
  const int64_t r = std::min(state.range(0), state.range(1));
  const int64_t c = std::max(state.range(0), state.range(1));
  const std::vector<float> values = random_values(r * c, 3);
  Matrix x = Eigen::Map<const Matrix>(values.data(), r, c), a(r, r), p(r, r), next(r, c);
  x /= x.norm();
  for (auto _ : state) {
    for (int64_t k = 0; k < kSteps; ++k) {
      a.setZero();
      a.selfadjointView<Eigen::Lower>().rankUpdate(x);
      a.triangularView<Eigen::StrictlyUpper>() = a.transpose();
      p.noalias() = a * a;
      next.noalias() = p * x;
    }
    benchmark::DoNotOptimize(next.data());
  }
  state.counters["GFLOP/s"] =
      benchmark::Counter(gemm_flops(r, c) * 1e-9, benchmark::Counter::kIsIterationInvariantRate);
}

// A model-like set of 8 parameters of 512x1024 (fp32 Newton-Schulz), stepped by 1 or more
// threads (parameters in parallel, each thread with its own workspace).
void BM_CpuStepEightParams(benchmark::State& state) {
  constexpr int64_t kParams = 8, kRows = 512, kCols = 1024;
  rootopt::OptimizerConfig config;
  config.warn = [](const std::string&) {};
  config.hyperparams.lr = 1e-6f;
  config.hyperparams.precision = rootopt::Precision::fp32;
  config.cpu_threads = state.range(0);
  rootopt::Optimizer opt(config);
  std::vector<std::vector<float>> params, grads;
  for (int64_t i = 0; i < kParams; ++i) {
    params.push_back(random_values(kRows * kCols, uint64_t(10 + i)));
    grads.push_back(random_values(kRows * kCols, uint64_t(20 + i)));
    rootopt::ParamSpec spec;
    spec.name = "w" + std::to_string(i);
    spec.rows = kRows;
    spec.cols = kCols;
    spec.param = params.back().data();
    spec.grad = grads.back().data();
    opt.add_param(spec);
  }
  for (auto _ : state) opt.step();
  state.counters["GFLOP/s"] = benchmark::Counter(double(kParams) * gemm_flops(kRows, kCols) * 1e-9,
                                                 benchmark::Counter::kIsIterationInvariantRate);
}

void BM_Quantile(benchmark::State& state) {
  const int64_t count = state.range(0) * state.range(1);
  const std::vector<float> values = random_values(count, 4);
  std::vector<float> scratch(values.size());
  for (auto _ : state) {
    benchmark::DoNotOptimize(
        rootopt::detail::cpu::abs_quantile(values.data(), count, 0.9, scratch.data()));
  }
}

void shapes(benchmark::internal::Benchmark* b, bool with_precision) {
  for (const auto& [rows, cols] :
       {std::pair<int64_t, int64_t>{256, 1024}, {1024, 1024}, {1024, 4096}}) {
    if (with_precision) {
      b->Args({rows, cols, 32});
      b->Args({rows, cols, 16});
    } else {
      b->Args({rows, cols});
    }
  }
  b->Unit(benchmark::kMillisecond)->UseRealTime()->MinTime(2.0);
}

BENCHMARK(BM_CpuStep)->ArgNames({"rows", "cols", "bits"})->Apply([](auto* b) { shapes(b, true); });
BENCHMARK(BM_GemmFloor)->ArgNames({"rows", "cols"})->Apply([](auto* b) { shapes(b, false); });
BENCHMARK(BM_CpuStepEightParams)
    ->ArgName("threads")
    ->Arg(1)
    ->Arg(8)
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime()
    ->MinTime(2.0);
BENCHMARK(BM_Quantile)->ArgNames({"rows", "cols"})->Apply([](auto* b) { shapes(b, false); });

}  // namespace

BENCHMARK_MAIN();
