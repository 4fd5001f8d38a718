// CPU ROOT step per shape (fp32 and bf16-emulated Newton-Schulz) next to the floor measured in
// the same run: the step's GEMMs alone (K x {X X^T as a symmetric rank update, A A's lower
// triangle, P X} with Eigen, fp32, the calls the CPU backend makes), and the soft-threshold
// quantile alone; and recipes (Gram form, restarts, Schatten-8) against the Polar Express
// standard step timed in the same iterations, with the cost model's predicted ratio beside the
// measured one (issue 10's bar). See docs/results/runtime-cpu.md for numbers and the command.
#include <benchmark/benchmark.h>

#include <Eigen/Core>
#include <ctime>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "backend.h"
#include "cpu/soft_threshold.h"
#include "rootopt/cost_model.h"
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

// GEMM flops of one ROOT step with Polar Express on a rows x cols matrix, as the cost model
// counts them (symmetric products X X^T and A A at half).
double gemm_flops(int64_t rows, int64_t cols) {
  const rootopt::Shape shape{rows, cols};
  return rootopt::recipe_flops(rootopt::builtin_recipe("polar-express", shape, kSteps), shape,
                               rootopt::Precision::fp32)
      .total();
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
      p.triangularView<Eigen::Lower>() = a * a;
      p.triangularView<Eigen::StrictlyUpper>() = p.transpose();
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

// The recipes issue 10 considers for wide shapes, by index: the Gram form with 7, 8 or 10 steps,
// without and with a restart after step 2, and the standard form with 5 steps under Schatten-8.
// Coefficients do not change the time (Polar Express's list, extended by its last step).
constexpr int64_t kCandidates = 7;
rootopt::Recipe candidate(int64_t index, rootopt::Shape shape) {
  if (index == kCandidates - 1) {
    rootopt::Recipe recipe = rootopt::builtin_recipe("polar-express", shape, 5);
    recipe.normalization = rootopt::Normalization::schatten8;
    return recipe;
  }
  const int64_t steps[] = {7, 8, 10};
  rootopt::Recipe recipe = rootopt::builtin_recipe("polar-express", shape, steps[index / 2]);
  recipe.form = rootopt::IterationForm::gram;
  if (index % 2 == 1) recipe.restarts = {2};
  return recipe;
}

double thread_cpu_seconds() {
  timespec now{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &now);
  return double(now.tv_sec) + 1e-9 * double(now.tv_nsec);
}

// One parameter on its own CPU backend (one thread), stepped with a given recipe.
class RecipeStepper {
 public:
  RecipeStepper(rootopt::Shape shape, const rootopt::Recipe& recipe)
      : backend_(rootopt::detail::make_cpu_backend(1)),
        param_(random_values(shape.rows * shape.cols, 1)),
        grad_(random_values(shape.rows * shape.cols, 2)) {
    rootopt::ParamSpec spec;
    spec.name = "w";
    spec.rows = shape.rows;
    spec.cols = shape.cols;
    spec.param = param_.data();
    spec.grad = grad_.data();
    backend_->add(0, {spec, recipe});
  }
  // CPU seconds of one step on this thread (the backend with one thread steps on the caller's
  // thread): unlike wall time, not inflated by other processes on a shared machine.
  double step(const rootopt::Hyperparams& h) {
    const double start = thread_cpu_seconds();
    backend_->step(h, nullptr);
    benchmark::DoNotOptimize(param_.data());
    return thread_cpu_seconds() - start;
  }

 private:
  std::unique_ptr<rootopt::detail::Backend> backend_;
  std::vector<float> param_, grad_;
};

// A recipe's ROOT step against the Polar Express standard step (5 steps, Frobenius) on the same
// shape and precision, alternating which runs first in each iteration so both see the same
// machine state. Times are the thread's CPU time; the reported time is the recipe's; counters:
// measured = recipe / Polar Express (whole steps), predicted = the cost model's ratio on the cpu
// profile (GEMMs only; the O(mn) momentum, quantile and update parts pull the measured ratio
// towards 1 at small shapes), model_error = predicted / measured - 1.
void BM_RecipeVsPolarExpress(benchmark::State& state) {
  const rootopt::Shape shape{state.range(0), state.range(1)};
  const rootopt::Recipe recipe = candidate(state.range(2), shape);
  rootopt::Hyperparams h;
  h.lr = 1e-6f;
  h.precision = state.range(3) == 16 ? rootopt::Precision::bf16 : rootopt::Precision::fp32;
  RecipeStepper tested(shape, recipe);
  RecipeStepper polar_express(shape, rootopt::builtin_recipe("polar-express", shape, kSteps));
  double tested_total = 0, baseline_total = 0;
  bool baseline_first = false;
  for (auto _ : state) {
    double tested_time = 0;
    if (baseline_first) baseline_total += polar_express.step(h);
    tested_time = tested.step(h);
    if (!baseline_first) baseline_total += polar_express.step(h);
    baseline_first = !baseline_first;
    tested_total += tested_time;
    state.SetIterationTime(tested_time);
  }
  const double measured = tested_total / baseline_total;
  const double predicted = rootopt::recipe_cost(recipe, shape, h.precision, rootopt::kCpuProfile);
  state.counters["measured"] = measured;
  state.counters["predicted"] = predicted;
  state.counters["model_error"] = predicted / measured - 1;
  state.counters["pe_ms"] = 1e3 * baseline_total / double(state.iterations());
  state.SetLabel(recipe.describe());
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
BENCHMARK(BM_RecipeVsPolarExpress)
    ->ArgNames({"rows", "cols", "recipe", "bits"})
    ->Apply([](auto* b) {
      for (const auto& [rows, cols] :
           {std::pair<int64_t, int64_t>{1024, 3584}, {1024, 4096}, {256, 1024}, {512, 512}})
        for (int64_t bits : {16, 32})
          for (int64_t index = 0; index < kCandidates; ++index) b->Args({rows, cols, index, bits});
      b->Unit(benchmark::kMillisecond)->UseManualTime()->MinTime(3.0);
    });

}  // namespace

BENCHMARK_MAIN();
