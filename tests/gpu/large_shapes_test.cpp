// The Llama-3-8B shapes too large for the CPU backend in test time (4096x4096, 4096x14336 and its
// transpose 14336x4096, ~1-5 TFLOP per step at ~20 GFLOP/s on a CPU core) against an independent
// fp64 reference: X0 by the CPU backend's own functions (runtime/cpu, bit-identical to what the
// CUDA kernels must produce), Newton-Schulz in fp64 with plain cublasDgemm calls
// (fp64_newton_schulz in gpu_test_support.h: the recipe's map in exact arithmetic).
//
// Tolerances (relative Frobenius error of X_K against the fp64 iteration from the same X0):
//  - fp32: 1e-3, as in cuda_backend_test.cpp (fp32 GEMM roundoff, amplified <= a^5 only in the
//    unconverged small singular directions).
//  - bf16: 5e-2. X0 and each GEMM output are rounded to bf16 (unit roundoff 2^-8); the errors add
//    up in quadrature to ~1e-2 and grow in the unconverged directions (measured 9e-3 to 1.6e-2 for
//    the standard form, docs/results/gpu.md; an emulation of the Gram form's arithmetic in numpy
//    measured up to 3.3e-2 at 1000x1000, where R's drift is worst); 5e-2 is still below the
//    O(0.1 - 1) of a wrong orientation, stride, coefficient or Schatten scale.
#include <gtest/gtest.h>

#include <iostream>
#include <random>

#include "gpu_test_support.h"

namespace rootopt::testing {
namespace {

struct LargeCase {
  int64_t rows, cols;
  Precision precision;
  Recipe recipe;
  std::string name;
};

void PrintTo(const LargeCase& c, std::ostream* os) {  // gtest's name for a failing case
  *os << c.rows << "x" << c.cols << ", " << to_string(c.precision) << ", " << c.recipe.describe();
}

class LlamaShapes : public ::testing::TestWithParam<LargeCase> {};

TEST_P(LlamaShapes, CudaStepMatchesFp64Reference) {
  ROOTOPT_REQUIRE_CUDA();
  const LargeCase& c = GetParam();
  std::mt19937_64 rng(37 + c.rows + c.cols);
  TwinParam p("w", 1, c.rows, c.cols, DType::fp32);
  const std::vector<float> grad = random_values(p.count(), rng, 0.01f);
  p.set_grad(grad);
  const Hyperparams h = bare_update(c.precision);
  auto gpu = detail::make_cuda_backend();
  gpu->add(0, p.device_entry(c.recipe));
  gpu->step(h, nullptr);
  std::vector<float> got = p.device_theta();  // -X_K
  for (float& v : got) v = -v;
  const std::vector<float> expected = fp64_newton_schulz(cpu_x0(grad, h), c.rows, c.cols, c.recipe);
  ASSERT_TRUE(any_nonzero(got));
  EXPECT_TRUE(gpu->skipped_last_step().empty());
  const double error = relative_error(got, expected);
  RecordProperty("relative_error", std::to_string(error));
  EXPECT_LT(error, c.precision == Precision::bf16 ? 5e-2 : 1e-3);
  std::cout << "  " << c.rows << "x" << c.cols << " " << to_string(c.precision) << " "
            << c.recipe.describe() << ": relative error vs fp64 " << error << "\n";
}

std::vector<LargeCase> large_cases() {
  const auto pe = [](int64_t steps) {
    return polar_express_recipe(Normalization::frobenius, IterationForm::standard, steps);
  };
  const Recipe s8 = polar_express_recipe(Normalization::schatten8, IterationForm::standard, 5);
  const Recipe gram7 = polar_express_recipe(Normalization::schatten8, IterationForm::gram, 7, {2});
  const Recipe gram8 = polar_express_recipe(Normalization::schatten8, IterationForm::gram, 8);
  const Recipe gram7_tail = polar_express_recipe(Normalization::schatten8, IterationForm::gram, 7,
                                                 {2}, 1, Precision::tf32);
  const auto bf16 = Precision::bf16, fp32 = Precision::fp32;
  return {
      {4096, 4096, bf16, pe(5), "pe"},
      {4096, 14336, bf16, pe(5), "pe"},
      {14336, 4096, bf16, pe(5), "pe"},
      {4096, 14336, fp32, pe(5), "pe"},
      {14336, 4096, fp32, pe(5), "pe"},
      {1024, 4096, bf16, pe(5), "pe"},
      // Recipes (the split symmetric products run from 2048 on: 4096-wide shapes only).
      {4096, 14336, bf16, s8, "schatten8"},
      {4096, 14336, bf16, gram7, "schatten8_gram7_restart2"},
      {14336, 4096, bf16, gram7, "schatten8_gram7_restart2"},
      {4096, 14336, bf16, gram7_tail, "schatten8_gram7_restart2_tf32tail"},
      {4096, 4096, bf16, gram7, "schatten8_gram7_restart2"},
      {4096, 14336, fp32, gram7, "schatten8_gram7_restart2"},
      {1024, 4096, bf16, gram8, "schatten8_gram8"},
  };
}

INSTANTIATE_TEST_SUITE_P(Llama3_8B, LlamaShapes, ::testing::ValuesIn(large_cases()),
                         [](const ::testing::TestParamInfo<LargeCase>& info) {
                           return std::to_string(info.param.rows) + "x" +
                                  std::to_string(info.param.cols) + "_" +
                                  to_string(info.param.precision) + "_" + info.param.name;
                         });

}  // namespace
}  // namespace rootopt::testing
