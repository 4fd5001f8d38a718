// The CUDA backend against the CPU backend (the reference, itself tested against an independent
// fp64 ROOT step in tests/runtime) on the same parameters and gradients.
//
// Tolerances (relative Frobenius error of the update X_K):
//  - momentum: bit-identical. Both backends compute M = mu M + g in fp32 with the same roundings
//    (no FMA contraction on either side), so any difference is a bug.
//  - fp32 Newton-Schulz: 1e-3. The two differ only in GEMM summation order (~1e-6 relative per
//    product); five quintic steps amplify perturbations of the smallest singular directions by
//    at most prod |p_k'(0)| = a^5 ~ 500 (Muon's a = 3.4445), and those directions carry a small
//    share of ||X_K||, so 1e-3 leaves a 2x margin over the worst case and still catches any
//    wrong orientation, coefficient or stride (those give O(0.1 - 1)).
//  - bf16 Newton-Schulz: 5e-2. Every GEMM output is rounded to bf16 (unit roundoff 2^-8 = 3.9e-3);
//    a different fp32 summation order flips the rounding of some entries by one bf16 ulp, and
//    15 GEMMs accumulate ~sqrt(15) such independent relative errors, amplified as above in the
//    unconverged directions. Each backend's bf16 X_K is within 2.8e-2 of the fp64 iteration
//    (measured over 20-30 seeds per shape, docs/results/python.md), so two of them differ by at
//    most ~sqrt(2) x 2.8e-2 = 4e-2. Wrong math still gives O(0.1 - 1).
#include <gtest/gtest.h>

#include <deque>
#include <memory>
#include <random>

#include "gpu_test_support.h"
#include "rootopt/schedule.h"

namespace rootopt::testing {
namespace {

double tolerance(Precision precision) { return precision == Precision::bf16 ? 5e-2 : 1e-3; }
Schedule muon(Shape shape) { return builtin_schedule("muon", shape); }

struct ShapeCase {
  int64_t rows, cols;
  Precision precision;
  DType dtype;
};

class CudaVsCpu : public ::testing::TestWithParam<ShapeCase> {};

// One step from theta = 0 with lr 1, no decay, no scale: theta becomes -X_K on both backends.
TEST_P(CudaVsCpu, OneStepMatchesCpuBackend) {
  ROOTOPT_REQUIRE_CUDA();
  const ShapeCase c = GetParam();
  std::mt19937_64 rng(1000 + c.rows * 7 + c.cols);
  TwinParam p("w", 1, c.rows, c.cols, c.dtype);
  p.set_grad(random_values(p.count(), rng, 0.01f));
  const Schedule schedule = muon({c.rows, c.cols});
  auto cpu = detail::make_cpu_backend();
  auto gpu = detail::make_cuda_backend();
  cpu->add(0, p.host_entry(schedule));
  gpu->add(0, p.device_entry(schedule));
  const Hyperparams h = bare_update(c.precision);
  cpu->step(h, nullptr);
  gpu->step(h, nullptr);
  const std::vector<float> expected = p.host_theta(), got = p.device_theta();
  ASSERT_TRUE(any_nonzero(got));
  EXPECT_LT(relative_error(got, expected), tolerance(c.precision))
      << c.rows << "x" << c.cols << " " << to_string(c.precision);
  EXPECT_EQ(gpu->read_momentum(0), cpu->read_momentum(0));
  EXPECT_TRUE(gpu->skipped_last_step().empty());
}

std::vector<ShapeCase> shape_cases() {
  std::vector<ShapeCase> cases;
  // Odd sizes, then the Llama-3-8B attention/MLP shapes that the CPU can do in test time (the
  // 4096-wide ones are checked against an fp64 GPU reference in large_shapes_test.cpp).
  for (auto [r, c] : std::vector<std::pair<int64_t, int64_t>>{
           {1, 1}, {7, 300}, {300, 7}, {1000, 1000}, {1024, 4096}, {4096, 1024}})
    for (Precision precision : {Precision::bf16, Precision::fp32})
      cases.push_back({r, c, precision, DType::fp32});
  cases.push_back({96, 320, Precision::bf16, DType::bf16});
  cases.push_back({320, 96, Precision::fp32, DType::bf16});
  return cases;
}

INSTANTIATE_TEST_SUITE_P(Shapes, CudaVsCpu, ::testing::ValuesIn(shape_cases()),
                         [](const ::testing::TestParamInfo<ShapeCase>& info) {
                           const ShapeCase& c = info.param;
                           return std::to_string(c.rows) + "x" + std::to_string(c.cols) + "_" +
                                  to_string(c.precision) + "_" +
                                  (c.dtype == DType::bf16 ? "bf16param" : "fp32param");
                         });

// Several steps with realistic hyperparameters (lr, weight decay, rms scale, a schedule change
// of precision) and fresh gradients each step, bf16 and fp32 parameters, wide and tall.
TEST(CudaBackend, TrajectoryMatchesCpuBackend) {
  ROOTOPT_REQUIRE_CUDA();
  std::mt19937_64 rng(7);
  std::deque<TwinParam> params;
  params.emplace_back("wide_bf16", 1, 128, 512, DType::bf16);
  params.emplace_back("tall_fp32", 1, 512, 128, DType::fp32);
  params.emplace_back("experts", 3, 64, 96, DType::fp32);
  auto cpu = detail::make_cpu_backend();
  auto gpu = detail::make_cuda_backend();
  std::vector<std::vector<float>> theta0;
  for (size_t i = 0; i < params.size(); ++i) {
    TwinParam& p = params[i];
    p.set_theta(random_values(p.count(), rng, 0.02f));
    theta0.push_back(p.host_theta());
    const Schedule schedule = builtin_schedule("polar-express", {1, 1});
    cpu->add(int64_t(i), p.host_entry(schedule));
    gpu->add(int64_t(i), p.device_entry(schedule));
  }
  Hyperparams h;
  h.lr = 0.02f;
  for (int step = 0; step < 4; ++step) {
    h.precision = step == 2 ? Precision::fp32 : Precision::bf16;
    h.threshold_quantile = step == 3 ? 0.75f : 0.9f;
    for (TwinParam& p : params) p.set_grad(random_values(p.count(), rng, 0.01f));
    cpu->step(h, nullptr);
    gpu->step(h, nullptr);
    for (size_t i = 0; i < params.size(); ++i) {
      // Compare the accumulated updates theta - theta0 (theta itself is dominated by theta0).
      std::vector<float> expected = params[i].host_theta(), got = params[i].device_theta();
      for (size_t k = 0; k < got.size(); ++k) {
        expected[k] -= theta0[i][k];
        got[k] -= theta0[i][k];
      }
      ASSERT_TRUE(any_nonzero(got));
      // bf16 parameters add one bf16 rounding of theta per step (2^-9 of |theta| ~ 10x the
      // update per element for lr 0.02): compare those on the bf16 scale of theta.
      const double tol = params[i].host_spec().dtype == DType::bf16 ? 0.1 : 5e-2;
      EXPECT_LT(relative_error(got, expected), tol) << "param " << i << " step " << step;
      EXPECT_EQ(gpu->read_momentum(int64_t(i)), cpu->read_momentum(int64_t(i)))
          << "param " << i << " step " << step;
    }
  }
}

// Same-shape parameters run as one strided batch; the result must be that of running each alone.
TEST(CudaBackend, BatchingEqualsUnbatched) {
  ROOTOPT_REQUIRE_CUDA();
  std::mt19937_64 rng(11);
  const Schedule schedule = muon({300, 700});
  std::deque<TwinParam> batched, alone;
  auto together = detail::make_cuda_backend();
  std::vector<std::unique_ptr<detail::Backend>> separate;
  for (int i = 0; i < 3; ++i) {
    const int64_t batch = i == 2 ? 2 : 1;
    batched.emplace_back("b" + std::to_string(i), batch, 300, 700, DType::fp32);
    alone.emplace_back("a" + std::to_string(i), batch, 300, 700, DType::fp32);
    const std::vector<float> g = random_values(batched.back().count(), rng, 0.01f);
    batched.back().set_grad(g);
    alone.back().set_grad(g);
    together->add(i, batched.back().device_entry(schedule));
    separate.push_back(detail::make_cuda_backend());
    separate.back()->add(0, alone.back().device_entry(schedule));
  }
  for (Precision precision : {Precision::bf16, Precision::fp32}) {
    for (size_t i = 0; i < batched.size(); ++i) {  // theta = 0, so theta becomes -X_K of this step
      batched[i].set_theta(std::vector<float>(static_cast<size_t>(batched[i].count()), 0.0f));
      alone[i].set_theta(std::vector<float>(static_cast<size_t>(alone[i].count()), 0.0f));
    }
    together->step(bare_update(precision), nullptr);
    for (auto& backend : separate) backend->step(bare_update(precision), nullptr);
    for (size_t i = 0; i < batched.size(); ++i) {
      const std::vector<float> got = batched[i].device_theta(), expected = alone[i].device_theta();
      ASSERT_TRUE(any_nonzero(got));
      // Same kernels per matrix; only cuBLASLt's algorithm for batch 4 vs 1 or 2 may differ
      // (summation order), so the bf16 bound above applies. A stride or slot mix-up gives O(1).
      EXPECT_LT(relative_error(got, expected), tolerance(precision)) << "param " << i;
    }
  }
}

// A NaN or Inf in a gradient skips that parameter whole (weights and momentum untouched) without
// disturbing the others, including those batched with it; the next finite step proceeds.
TEST(CudaBackend, NonFiniteGradientSkipsOnlyThatParameter) {
  ROOTOPT_REQUIRE_CUDA();
  std::mt19937_64 rng(13);
  std::deque<TwinParam> params;
  params.emplace_back("ok", 1, 40, 90, DType::fp32);
  params.emplace_back("nan", 1, 40, 90, DType::fp32);  // same group as "ok"
  params.emplace_back("inf", 2, 90, 40, DType::bf16);
  auto cpu = detail::make_cpu_backend();
  auto gpu = detail::make_cuda_backend();
  for (size_t i = 0; i < params.size(); ++i) {
    params[i].set_theta(random_values(params[i].count(), rng, 0.02f));
    params[i].set_grad(random_values(params[i].count(), rng));
    cpu->add(int64_t(i), params[i].host_entry(muon({40, 90})));
    gpu->add(int64_t(i), params[i].device_entry(muon({40, 90})));
  }
  Hyperparams h;
  cpu->step(h, nullptr);  // non-zero momentum first, so "untouched" is a real check
  gpu->step(h, nullptr);
  std::vector<float> g1 = random_values(params[1].count(), rng);
  g1[17] = NAN;
  params[1].set_grad(g1);
  std::vector<float> g2 = random_values(params[2].count(), rng);
  g2[params[2].count() - 1] = INFINITY;  // in the second matrix of the batch
  params[2].set_grad(g2);
  params[0].set_grad(random_values(params[0].count(), rng));
  const std::vector<float> theta1 = params[1].device_theta(), theta2 = params[2].device_theta();
  const std::vector<float> m1 = gpu->read_momentum(1), m2 = gpu->read_momentum(2);
  cpu->step(h, nullptr);
  gpu->step(h, nullptr);
  EXPECT_EQ(gpu->skipped_last_step(), (std::vector<int64_t>{1, 2}));
  EXPECT_EQ(cpu->skipped_last_step(), gpu->skipped_last_step());
  EXPECT_EQ(params[1].device_theta(), theta1);
  EXPECT_EQ(params[2].device_theta(), theta2);
  EXPECT_EQ(gpu->read_momentum(1), m1);
  EXPECT_EQ(gpu->read_momentum(2), m2);
  EXPECT_LT(relative_error(params[0].device_theta(), params[0].host_theta()), 5e-2);
  params[1].set_grad(random_values(params[1].count(), rng));
  params[2].set_grad(random_values(params[2].count(), rng));
  gpu->step(h, nullptr);
  EXPECT_TRUE(gpu->skipped_last_step().empty());
}

// A zero gradient gives X0 = 0 / (0 + 1e-7) = 0 and so a pure weight-decay step, not 0/0.
TEST(CudaBackend, ZeroGradientGivesPureWeightDecay) {
  ROOTOPT_REQUIRE_CUDA();
  std::mt19937_64 rng(17);
  TwinParam p("w", 1, 33, 65, DType::fp32);
  const std::vector<float> theta = random_values(p.count(), rng);
  p.set_theta(theta);
  auto gpu = detail::make_cuda_backend();
  gpu->add(0, p.device_entry(muon({33, 65})));
  Hyperparams h;
  h.lr = 0.5f;
  h.weight_decay = 0.1f;
  gpu->step(h, nullptr);
  const float decay = static_cast<float>(1.0 - 0.5 * double(0.1f));  // update_coefficients()
  std::vector<float> expected(theta);
  for (float& v : expected) v *= decay;
  EXPECT_EQ(p.device_theta(), expected);
}

// Small steps over every threshold mode, precision and dtype, scalar and vectorised element
// access: the run compute-sanitizer checks
// (tools/gpu-check), and a comparison with the CPU backend on top.
TEST(CudaBackend, SanitizerSmallSteps) {
  ROOTOPT_REQUIRE_CUDA();
  std::mt19937_64 rng(19);
  std::deque<TwinParam> params;
  params.emplace_back("a", 1, 1, 1, DType::fp32);
  params.emplace_back("b", 1, 5, 3, DType::bf16);
  params.emplace_back("c", 2, 17, 33, DType::fp32);
  params.emplace_back("d", 1, 17, 33, DType::fp32);
  params.emplace_back("e", 2, 16, 24, DType::bf16);  // elements % 4 == 0: the vectorised path
  auto cpu = detail::make_cpu_backend();
  auto gpu = detail::make_cuda_backend();
  for (size_t i = 0; i < params.size(); ++i) {
    cpu->add(int64_t(i), params[i].host_entry(muon({1, 1})));
    gpu->add(int64_t(i), params[i].device_entry(muon({1, 1})));
  }
  for (ThresholdMode mode : {ThresholdMode::quantile, ThresholdMode::fixed, ThresholdMode::off}) {
    for (Precision precision : {Precision::bf16, Precision::fp32}) {
      Hyperparams h;
      h.threshold = mode;
      h.threshold_value = 0.5f;
      h.precision = precision;
      for (TwinParam& p : params) p.set_grad(random_values(p.count(), rng));
      cpu->step(h, nullptr);
      gpu->step(h, nullptr);
      for (size_t i = 0; i < params.size(); ++i)
        EXPECT_EQ(gpu->read_momentum(int64_t(i)), cpu->read_momentum(int64_t(i)));
    }
  }
  for (size_t i = 0; i < params.size(); ++i)
    EXPECT_LT(relative_error(params[i].device_theta(), params[i].host_theta()), 0.1) << i;
}

// Through the public API: Device::cuda and Device::cpu give the same trajectory.
TEST(CudaBackend, OptimizerApiMatchesCpu) {
  ROOTOPT_REQUIRE_CUDA();
  std::mt19937_64 rng(23);
  TwinParam p("layer.weight", 1, 192, 64, DType::fp32);
  p.set_theta(random_values(p.count(), rng, 0.02f));
  OptimizerConfig config;
  config.fallback.kind = FallbackPolicy::Kind::named;
  config.fallback.schedule_name = "polar-express";
  config.warn = [](const std::string&) {};
  config.device = Device::cpu;
  Optimizer cpu(config);
  config.device = Device::cuda;
  Optimizer gpu(config);
  ASSERT_TRUE(Optimizer::cuda_available());
  cpu.add_param(p.host_spec());
  gpu.add_param(p.device_spec());
  const std::vector<float> theta0 = p.host_theta();
  for (int step = 0; step < 3; ++step) {
    p.set_grad(random_values(p.count(), rng, 0.01f));
    cpu.step();
    gpu.step();
  }
  EXPECT_EQ(gpu.last_report().step, 3);
  EXPECT_TRUE(gpu.last_report().skipped.empty());
  EXPECT_EQ(gpu.momentum(0), cpu.momentum(0));
  std::vector<float> expected = p.host_theta(), got = p.device_theta();
  for (size_t k = 0; k < got.size(); ++k) {
    expected[k] -= theta0[k];
    got[k] -= theta0[k];
  }
  ASSERT_TRUE(any_nonzero(got));
  EXPECT_LT(relative_error(got, expected), 5e-2);
}

// Without a device the CUDA backend refuses with a clear error (this one runs on CI).
TEST(CudaBackend, RefusesClearlyWithoutDevice) {
  if (detail::cuda_device_present()) GTEST_SKIP() << "a CUDA device is present";
  EXPECT_FALSE(Optimizer::cuda_available());
  try {
    detail::make_cuda_backend();
    FAIL() << "make_cuda_backend() did not throw";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("no CUDA device"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace rootopt::testing
