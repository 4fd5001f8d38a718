// The GPU quantile (radix selection over the bits of |U|) must equal the CPU backend's
// abs_quantile (std::nth_element + torch.quantile's linear interpolation) bit for bit: both pick
// the same two order statistics and interpolate them with the same fp64 arithmetic.
#include <gtest/gtest.h>

#include <cstring>
#include <random>

#include "cpu/soft_threshold.h"
#include "gpu_test_support.h"
#include "step_kernels.h"

namespace rootopt::testing {
namespace {

// eps of each matrix (count matrices of `elements` values, fp32, U = g) by the GPU kernels.
std::vector<float> gpu_quantiles(const std::vector<float>& values, int64_t count, int64_t elements,
                                 float q) {
  const size_t bytes = sizeof(float) * values.size();
  cuda::DeviceBuffer grad(bytes, "grad"), momentum(bytes, "momentum"), u(bytes, "u"),
      hist(sizeof(uint32_t) * count * cuda::kRadixPasses * 2 * cuda::kRadixBins, "hist"),
      state(sizeof(cuda::ThresholdState) * count, "state"), flags(sizeof(int32_t), "flags"),
      slots(sizeof(cuda::MatrixSlot) * count, "slots");
  upload(grad.get(), values.data(), bytes);
  ROOTOPT_CUDA_CHECK(cudaMemset(momentum.get(), 0, bytes), "test");
  ROOTOPT_CUDA_CHECK(cudaMemset(hist.get(), 0, hist.bytes()), "test");
  ROOTOPT_CUDA_CHECK(cudaMemset(flags.get(), 0, flags.bytes()), "test");
  std::vector<cuda::MatrixSlot> host_slots;
  for (int64_t m = 0; m < count; ++m)
    host_slots.push_back(
        {grad.as<float>() + m * elements, nullptr, momentum.as<float>() + m * elements, 0});
  upload(slots.get(), host_slots.data(), slots.bytes());
  // Vector loads whenever the sizes allow (both paths are exercised: sizes 1, 2, 7, 65537 are
  // scalar).
  const cuda::GroupView view{slots.as<cuda::MatrixSlot>(), count, elements, DType::fp32,
                             elements % 4 == 0};
  // mu = 0, no Nesterov: M' = 0 M + g = g and U = M' = g exactly.
  cuda::launch_momentum_stats(view, {0.0f, false}, u.as<float>(), hist.as<uint32_t>(), true,
                              flags.as<int32_t>(), nullptr);
  // The position exactly as the CUDA backend and abs_quantile compute it.
  const double position = double(q) * double(elements - 1);
  const auto lo = static_cast<int64_t>(std::floor(position));
  const double frac = position - double(lo);
  const int64_t hi = (frac > 0 && lo + 1 < elements) ? lo + 1 : lo;
  cuda::launch_radix_select(view, u.as<float>(), hist.as<uint32_t>(),
                            {uint32_t(lo), uint32_t(hi), frac}, state.as<cuda::ThresholdState>(),
                            nullptr);
  ROOTOPT_CUDA_CHECK(cudaDeviceSynchronize(), "test");
  std::vector<cuda::ThresholdState> states(static_cast<size_t>(count));
  ROOTOPT_CUDA_CHECK(cudaMemcpy(states.data(), state.get(), state.bytes(), cudaMemcpyDeviceToHost),
                     "test");
  std::vector<float> eps;
  for (const auto& s : states) eps.push_back(s.eps);
  return eps;
}

void expect_exact(const std::vector<float>& values, int64_t count, int64_t elements, float q) {
  const std::vector<float> got = gpu_quantiles(values, count, elements, q);
  std::vector<float> scratch(static_cast<size_t>(elements));
  for (int64_t m = 0; m < count; ++m) {
    const float expected =
        detail::cpu::abs_quantile(values.data() + m * elements, elements, q, scratch.data());
    EXPECT_EQ(got[size_t(m)], expected) << "matrix " << m << " of " << elements << ", q " << q;
  }
}

TEST(RadixSelect, EqualsCpuQuantileOnRandomData) {
  ROOTOPT_REQUIRE_CUDA();
  std::mt19937_64 rng(29);
  for (int64_t elements : {1, 2, 7, 1000, 65537, 1 << 20})
    for (float q : {0.1f, 0.5f, 0.9f, 0.999f, 1.0f}) {
      const int64_t count = elements > 70000 ? 1 : 3;
      expect_exact(random_values(count * elements, rng), count, elements, q);
    }
}

// Many ties (small integers) and values spread over many binades (so the three radix digits all
// matter), signs mixed: the cases where a bucket walk is easiest to get off by one.
TEST(RadixSelect, EqualsCpuQuantileWithTiesAndWideRange) {
  ROOTOPT_REQUIRE_CUDA();
  std::mt19937_64 rng(31);
  std::uniform_int_distribution<int> small(-5, 5), exponent(-60, 60);
  std::normal_distribution<float> normal;
  const int64_t elements = 100003;
  std::vector<float> ties(static_cast<size_t>(2 * elements)), wide(ties.size());
  for (float& v : ties) v = float(small(rng));
  for (float& v : wide) v = std::ldexp(normal(rng), exponent(rng));
  for (float q : {0.25f, 0.9f, 0.97f}) {
    expect_exact(ties, 2, elements, q);
    expect_exact(wide, 2, elements, q);
  }
}

}  // namespace
}  // namespace rootopt::testing
