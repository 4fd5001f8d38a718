// The cuSOLVER polar solver (fp64 gesvdj) against the LAPACK one (dgesdd): the same polar factor
// U V^T and singular values on fresh random matrices, wide, tall and square. Both are fp64
// backward-stable SVDs of a well-conditioned matrix (condition number ~10 by construction), so
// the polar factors agree to ~cond * 1e-15; 1e-10 leaves ample margin and still fails on any
// transposition or ordering slip.
#include <gtest/gtest.h>

#include <random>

#include "cusolver_polar.h"
#include "gpu_test_support.h"
#include "rootopt/matrix_reference.h"

namespace rootopt::testing {
namespace {

TEST(CusolverPolar, MatchesLapack) {
  if (!detail::cuda_device_present()) {
    EXPECT_EQ(make_cusolver_polar_solver(), nullptr);
    GTEST_SKIP() << "no CUDA device";
  }
  const auto gpu = make_cusolver_polar_solver();
  ASSERT_NE(gpu, nullptr);
  EXPECT_EQ(gpu->name(), "cusolver");
  const auto cpu = make_cpu_polar_solver();
  std::mt19937_64 rng(41);
  for (auto [rows, cols] :
       std::vector<std::pair<int64_t, int64_t>>{{64, 200}, {300, 50}, {128, 128}, {1, 9}}) {
    const int64_t r = std::min(rows, cols);
    Spectrum s(static_cast<size_t>(r));
    for (int64_t i = 0; i < r; ++i)
      s[size_t(i)] = 1.0 - 0.9 * double(i) / double(std::max<int64_t>(r - 1, 1));
    const Eigen::MatrixXd m = matrix_with_spectrum({rows, cols}, s, rng());
    const PolarFactor expected = cpu->polar(m), got = gpu->polar(m);
    ASSERT_EQ(got.polar.rows(), rows);
    ASSERT_EQ(got.polar.cols(), cols);
    EXPECT_LT((got.polar - expected.polar).norm() / expected.polar.norm(), 1e-10)
        << rows << "x" << cols;
    ASSERT_EQ(got.singular_values.size(), expected.singular_values.size());
    for (size_t i = 0; i < got.singular_values.size(); ++i)
      EXPECT_NEAR(got.singular_values[i], expected.singular_values[i], 1e-10);
  }
}

}  // namespace
}  // namespace rootopt::testing
