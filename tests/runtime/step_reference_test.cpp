// The CPU backend against the independent fp64 ROOT step (reference_root.h) on random inputs:
// every shape class (1x1, wide, tall, square, odd, a batch), both Newton-Schulz precisions,
// 10-step trajectories, every threshold and scale mode, Nesterov on and off, and hyperparameters
// that change between steps.
#include <gtest/gtest.h>

#include <cstdio>
#include <functional>
#include <optional>

#include "reference_root.h"
#include "runtime_test_support.h"

namespace rootopt::testing {
namespace {

// Tolerances, relative to the size of what is compared. Measured on this suite's inputs (GCC 12 and
// 13, x86-64, also with -march=native): momentum <= 1.0e-7, fp32 <= 7.8e-6, bf16 <= 2.7e-2.
// Momentum: the same fp32 sums as the fp64 reference, ~6e-8 relative rounding per step.
constexpr double kMomentumTolerance = 1e-6;
// fp32 Newton-Schulz: fp32 GEMM rounding (~6e-8 relative per operation, growing with the inner
// dimension) is amplified by the schedule's composed map p_K o ... o p_1, whose slope on these
// spectra reaches ~120 (Polar Express) to ~440 (Muon, at small singular values).
constexpr double kFp32Tolerance = 5e-5;
// bf16 Newton-Schulz: each GEMM output is rounded to 8 significant bits (up to 2^-9 ~ 2e-3
// relative), amplified the same way; the worst case is Polar Express on 100x257.
constexpr double kBf16Tolerance = 6e-2;

struct Case {
  int64_t batch, rows, cols;
  Precision precision;
};

void PrintTo(const Case& c, std::ostream* out) {
  *out << c.batch << " x " << c.rows << "x" << c.cols << " " << to_string(c.precision);
}

std::string case_name(const ::testing::TestParamInfo<Case>& info) {
  const Case& c = info.param;
  return std::to_string(c.batch) + "x" + std::to_string(c.rows) + "x" + std::to_string(c.cols) +
         "_" + to_string(c.precision);
}

struct Errors {
  double theta = 0;     // ||theta - theta_ref|| / ||theta_ref - theta_0||, worst matrix
  double momentum = 0;  // ||M - M_ref|| / ||M_ref||, worst matrix
  double update = 0;    // ||theta_ref - theta_0||, smallest over the matrices
};

class RuntimeStepReference : public RuntimeTest {
 protected:
  // Runs `steps` steps of the optimizer and of the reference side by side; `hyper(k)` gives the
  // hyperparameters of step k. The optimizer uses `base` (default: the test table).
  Errors run(const Case& c, int steps, const std::function<Hyperparams(int)>& hyper, uint64_t seed,
             std::optional<OptimizerConfig> base = std::nullopt) {
    Optimizer opt(base ? *base : config(write_table()));
    HostParam p("w", c.batch, c.rows, c.cols, DType::fp32);
    std::mt19937_64 rng(seed);
    std::vector<ReferenceMatrix> ref(size_t(c.batch));
    std::vector<Eigen::MatrixXd> theta0;
    for (int64_t b = 0; b < c.batch; ++b) {
      p.set_theta(b, random_matrix(c.rows, c.cols, rng, 0.05));
      ref[size_t(b)] = {p.theta(b), Eigen::MatrixXd::Zero(c.rows, c.cols)};
      theta0.push_back(p.theta(b));
    }
    const int64_t id = opt.add_param(p.spec());
    const Recipe& recipe = opt.recipe(id).recipe;
    for (int k = 0; k < steps; ++k) {
      const Hyperparams h = hyper(k);
      opt.set_hyperparams(h);
      for (int64_t b = 0; b < c.batch; ++b) {
        p.set_grad(b, random_gradient(c.rows, c.cols, rng));
        reference_step(ref[size_t(b)], p.grad(b), h, recipe);
      }
      opt.step();
    }
    EXPECT_TRUE(opt.last_report().skipped.empty());
    const std::vector<float> momentum = opt.momentum(id);
    Errors e;
    e.update = std::numeric_limits<double>::infinity();
    for (int64_t b = 0; b < c.batch; ++b) {
      const ReferenceMatrix& r = ref[size_t(b)];
      Eigen::MatrixXd m(c.rows, c.cols);
      for (int64_t i = 0; i < m.size(); ++i) {
        m(i / c.cols, i % c.cols) = momentum[size_t(b * c.rows * c.cols + i)];
      }
      const double update = (r.theta - theta0[size_t(b)]).norm();
      e.update = std::min(e.update, update);
      e.theta = std::max(e.theta, (p.theta(b) - r.theta).norm() / update);
      e.momentum = std::max(e.momentum, relative_error(m, r.momentum));
    }
    std::printf("[ measured ] %s: theta %.3g, momentum %.3g (relative)\n",
                ::testing::UnitTest::GetInstance()->current_test_info()->name(), e.theta,
                e.momentum);
    return e;
  }

  static double tolerance(Precision p) {
    return p == Precision::fp32 ? kFp32Tolerance : kBf16Tolerance;
  }
};

class RuntimeStepShapes : public RuntimeStepReference,
                          public ::testing::WithParamInterface<Case> {};

TEST_P(RuntimeStepShapes, TenStepTrajectoryMatchesFp64Reference) {
  const Case c = GetParam();
  Hyperparams h;
  h.lr = 0.02f;
  h.precision = c.precision;
  const Errors e = run(
      c, 10, [&](int) { return h; }, 1000 + uint64_t(c.rows * 7 + c.cols));
  EXPECT_GT(e.update, 0.0) << "the reference moved no weight: the comparison would be empty";
  EXPECT_LT(e.theta, tolerance(c.precision));
  EXPECT_LT(e.momentum, kMomentumTolerance);
}

INSTANTIATE_TEST_SUITE_P(
    Cpu, RuntimeStepShapes,
    ::testing::Values(Case{1, 1, 1, Precision::fp32}, Case{1, 7, 300, Precision::fp32},
                      Case{1, 300, 7, Precision::fp32}, Case{1, 64, 64, Precision::fp32},
                      Case{1, 100, 257, Precision::fp32}, Case{3, 33, 20, Precision::fp32},
                      Case{1, 1, 1, Precision::bf16}, Case{1, 7, 300, Precision::bf16},
                      Case{1, 300, 7, Precision::bf16}, Case{1, 64, 64, Precision::bf16},
                      Case{1, 100, 257, Precision::bf16}, Case{3, 33, 20, Precision::bf16}),
    case_name);

// The bf16 path really rounds: its result differs from fp32 by more than fp32's tolerance.
TEST_F(RuntimeStepReference, Bf16DiffersFromFp32BeyondFp32Tolerance) {
  Hyperparams h;
  h.lr = 0.02f;
  h.precision = Precision::bf16;
  const Errors e = run(
      {1, 64, 64, Precision::bf16}, 1, [&](int) { return h; }, 7);
  EXPECT_GT(e.theta, 10 * kFp32Tolerance);
}

struct ModeCase {
  const char* name;
  std::function<void(Hyperparams&)> set;
};
void PrintTo(const ModeCase& c, std::ostream* out) { *out << c.name; }

class RuntimeStepModes : public RuntimeStepReference,
                         public ::testing::WithParamInterface<ModeCase> {};

TEST_P(RuntimeStepModes, MatchesFp64Reference) {
  Hyperparams h;
  h.lr = 0.02f;
  h.precision = Precision::fp32;
  GetParam().set(h);
  for (const Case c : {Case{1, 100, 257, Precision::fp32}, Case{1, 300, 7, Precision::fp32}}) {
    const Errors e = run(
        c, 3, [&](int) { return h; }, 77);
    EXPECT_GT(e.update, 0.0);
    EXPECT_LT(e.theta, kFp32Tolerance) << c.rows << "x" << c.cols;
    EXPECT_LT(e.momentum, kMomentumTolerance) << c.rows << "x" << c.cols;
  }
}

INSTANTIATE_TEST_SUITE_P(
    Cpu, RuntimeStepModes,
    ::testing::Values(
        ModeCase{"quantile_0_5", [](Hyperparams& h) { h.threshold_quantile = 0.5f; }},
        ModeCase{"quantile_1", [](Hyperparams& h) { h.threshold_quantile = 1.0f; }},
        ModeCase{"quantile_tiny", [](Hyperparams& h) { h.threshold_quantile = 1e-4f; }},
        ModeCase{"fixed",
                 [](Hyperparams& h) {
                   h.threshold = ThresholdMode::fixed;
                   h.threshold_value = 0.03f;
                 }},
        ModeCase{"threshold_off", [](Hyperparams& h) { h.threshold = ThresholdMode::off; }},
        ModeCase{"scale_spectral", [](Hyperparams& h) { h.scale = ScaleMode::spectral; }},
        ModeCase{"scale_none", [](Hyperparams& h) { h.scale = ScaleMode::none; }},
        ModeCase{"nesterov_off", [](Hyperparams& h) { h.nesterov = false; }},
        ModeCase{"no_weight_decay", [](Hyperparams& h) { h.weight_decay = 0; }},
        ModeCase{"momentum_0", [](Hyperparams& h) { h.momentum = 0; }}),
    [](const ::testing::TestParamInfo<ModeCase>& info) { return std::string(info.param.name); });

// A scheduler changes every hyperparameter between steps; the reference sees the same sequence.
TEST_F(RuntimeStepReference, HyperparametersChangeBetweenSteps) {
  const auto hyper = [](int k) {
    Hyperparams h;
    h.lr = 0.03f / float(1 + k);
    h.momentum = 0.8f + 0.02f * float(k);
    h.nesterov = k % 2 == 0;
    h.weight_decay = 0.05f * float(k);
    h.threshold = k % 3 == 0 ? ThresholdMode::quantile
                             : (k % 3 == 1 ? ThresholdMode::fixed : ThresholdMode::off);
    h.threshold_quantile = 0.8f;
    h.threshold_value = 0.05f;
    h.scale = k % 2 == 0 ? ScaleMode::rms : ScaleMode::spectral;
    h.precision = Precision::fp32;
    return h;
  };
  const Errors e = run({2, 100, 257, Precision::fp32}, 6, hyper, 99);
  EXPECT_GT(e.update, 0.0);
  EXPECT_LT(e.theta, kFp32Tolerance);
  EXPECT_LT(e.momentum, kMomentumTolerance);
}

// Without a table every shape runs the named fallback, here Polar Express with 6 steps under
// Schatten-8 normalization (FallbackPolicy carries steps and normalization).
TEST_F(RuntimeStepReference, NamedFallbackRecipeWithSchatten8) {
  OptimizerConfig base = config("");
  base.fallback.kind = FallbackPolicy::Kind::named;
  base.fallback.steps = 6;
  base.fallback.normalization = Normalization::schatten8;
  {
    Optimizer opt(base);
    HostParam p("w", 1, 100, 257, DType::fp32);
    const Recipe& recipe = opt.recipe(opt.add_param(p.spec())).recipe;
    EXPECT_EQ(recipe.normalization, Normalization::schatten8);
    EXPECT_EQ(recipe.steps(), 6);
  }
  for (const Case c : {Case{1, 100, 257, Precision::fp32}, Case{2, 300, 7, Precision::bf16}}) {
    Hyperparams h;
    h.lr = 0.02f;
    h.precision = c.precision;
    const Errors e = run(
        c, 10, [&](int) { return h; }, 5, base);
    EXPECT_GT(e.update, 0.0);
    EXPECT_LT(e.theta, tolerance(c.precision));
    EXPECT_LT(e.momentum, kMomentumTolerance);
  }
}

}  // namespace
}  // namespace rootopt::testing
