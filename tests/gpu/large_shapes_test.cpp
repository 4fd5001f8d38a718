// The Llama-3-8B shapes too large for the CPU backend in test time (4096x4096, 4096x14336 and its
// transpose 14336x4096, ~1-5 TFLOP per step at ~20 GFLOP/s on a CPU core) against an independent
// fp64 reference: steps 1-3 by the CPU backend's own functions (runtime/cpu, bit-identical to what
// the CUDA kernels must produce), Newton-Schulz in fp64 with plain cublasDgemm calls.
//
// Tolerances (relative Frobenius error of X_K against the fp64 iteration from the same X0):
//  - fp32: 1e-3, as in cuda_backend_test.cpp (fp32 GEMM roundoff, amplified <= a^5 only in the
//    unconverged small singular directions).
//  - bf16: 5e-2. X0 and each of the 15 GEMM outputs are rounded to bf16 (unit roundoff 2^-8);
//    the errors add up in quadrature to ~1e-2 and grow in the unconverged directions; 5e-2 is
//    still far below the O(0.1 - 1) of a wrong orientation, stride or coefficient.
#include <cublas_v2.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <random>

#include "cpu/momentum.h"
#include "cpu/newton_schulz.h"
#include "cpu/soft_threshold.h"
#include "cuda_check.h"
#include "gpu_test_support.h"

namespace rootopt::testing {
namespace {

// X0 of a parameter whose momentum is zero, exactly as the CPU backend forms it.
std::vector<float> cpu_x0(const std::vector<float>& grad, const Hyperparams& h) {
  std::vector<float> u(grad.size()), scratch(grad.size());
  for (size_t i = 0; i < grad.size(); ++i)
    u[i] = detail::cpu::momentum_step(0.0f, grad[i], h.momentum, h.nesterov).direction;
  const int64_t n = int64_t(u.size());
  detail::cpu::clamp_in_place(u.data(), n,
                              detail::cpu::threshold_epsilon(u.data(), n, h, scratch.data()));
  detail::cpu::normalize_frobenius(u.data(), n);
  return u;
}

class Cublas {
 public:
  Cublas() { ROOTOPT_CUBLAS_CHECK(cublasCreate(&handle_), "test handle"); }
  ~Cublas() { cublasDestroy(handle_); }
  cublasHandle_t get() const { return handle_; }

 private:
  cublasHandle_t handle_ = nullptr;
};

// fp64 Newton-Schulz of the row-major rows x cols matrix x0 (column-major view D: cols x rows).
std::vector<float> fp64_newton_schulz(const std::vector<float>& x0, int64_t rows, int64_t cols,
                                      const Schedule& schedule) {
  const bool wide = rows <= cols;
  const int m = int(cols), n = int(rows), s = int(std::min(rows, cols));
  std::vector<double> host(x0.begin(), x0.end());
  const size_t big = sizeof(double) * host.size(), square = sizeof(double) * size_t(s) * s;
  cuda::DeviceBuffer d(big, "D"), next(big, "D'"), a(square, "A"), p(square, "P");
  upload(d.get(), host.data(), big);
  Cublas blas;
  const double one = 1, zero = 0;
  double *x = d.as<double>(), *y = next.as<double>();
  for (const QuinticStep& k : schedule.steps()) {
    if (wide)  // A = D^T D (s = n)
      ROOTOPT_CUBLAS_CHECK(cublasDgemm(blas.get(), CUBLAS_OP_T, CUBLAS_OP_N, s, s, m, &one, x, m, x,
                                       m, &zero, a.as<double>(), s),
                           "A");
    else  // A = D D^T (s = m)
      ROOTOPT_CUBLAS_CHECK(cublasDgemm(blas.get(), CUBLAS_OP_N, CUBLAS_OP_T, s, s, n, &one, x, m, x,
                                       m, &zero, a.as<double>(), s),
                           "A");
    ROOTOPT_CUDA_CHECK(cudaMemcpy(p.get(), a.get(), square, cudaMemcpyDeviceToDevice), "P = A");
    ROOTOPT_CUBLAS_CHECK(cublasDgemm(blas.get(), CUBLAS_OP_N, CUBLAS_OP_N, s, s, s, &k.c,
                                     a.as<double>(), s, a.as<double>(), s, &k.b, p.as<double>(), s),
                         "P");
    ROOTOPT_CUDA_CHECK(cudaMemcpy(y, x, big, cudaMemcpyDeviceToDevice), "X' = X");
    if (wide)  // X' = a D + D P
      ROOTOPT_CUBLAS_CHECK(cublasDgemm(blas.get(), CUBLAS_OP_N, CUBLAS_OP_N, m, n, s, &one, x, m,
                                       p.as<double>(), s, &k.a, y, m),
                           "X'");
    else  // X' = a D + P D
      ROOTOPT_CUBLAS_CHECK(cublasDgemm(blas.get(), CUBLAS_OP_N, CUBLAS_OP_N, m, n, s, &one,
                                       p.as<double>(), s, x, m, &k.a, y, m),
                           "X'");
    std::swap(x, y);
  }
  ROOTOPT_CUDA_CHECK(cudaMemcpy(host.data(), x, big, cudaMemcpyDeviceToHost), "X_K");
  return {host.begin(), host.end()};
}

struct LargeCase {
  int64_t rows, cols;
  Precision precision;
};

class LlamaShapes : public ::testing::TestWithParam<LargeCase> {};

TEST_P(LlamaShapes, CudaStepMatchesFp64Reference) {
  ROOTOPT_REQUIRE_CUDA();
  const LargeCase c = GetParam();
  std::mt19937_64 rng(37 + c.rows + c.cols);
  TwinParam p("w", 1, c.rows, c.cols, DType::fp32);
  const std::vector<float> grad = random_values(p.count(), rng, 0.01f);
  p.set_grad(grad);
  const Schedule schedule = builtin_schedule("polar-express", {c.rows, c.cols});
  const Hyperparams h = bare_update(c.precision);
  auto gpu = detail::make_cuda_backend();
  gpu->add(0, p.device_entry(schedule));
  gpu->step(h, nullptr);
  std::vector<float> got = p.device_theta();  // -X_K
  for (float& v : got) v = -v;
  const std::vector<float> expected = fp64_newton_schulz(cpu_x0(grad, h), c.rows, c.cols, schedule);
  ASSERT_TRUE(any_nonzero(got));
  const double error = relative_error(got, expected);
  RecordProperty("relative_error", std::to_string(error));
  EXPECT_LT(error, c.precision == Precision::bf16 ? 5e-2 : 1e-3);
  std::cout << "  " << c.rows << "x" << c.cols << " " << to_string(c.precision)
            << ": relative error vs fp64 " << error << "\n";
}

INSTANTIATE_TEST_SUITE_P(Llama3_8B, LlamaShapes,
                         ::testing::Values(LargeCase{4096, 4096, Precision::bf16},
                                           LargeCase{4096, 14336, Precision::bf16},
                                           LargeCase{14336, 4096, Precision::bf16},
                                           LargeCase{4096, 14336, Precision::fp32},
                                           LargeCase{14336, 4096, Precision::fp32},
                                           LargeCase{1024, 4096, Precision::bf16}),
                         [](const ::testing::TestParamInfo<LargeCase>& info) {
                           return std::to_string(info.param.rows) + "x" +
                                  std::to_string(info.param.cols) + "_" +
                                  to_string(info.param.precision);
                         });

}  // namespace
}  // namespace rootopt::testing
