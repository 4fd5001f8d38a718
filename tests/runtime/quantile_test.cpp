// The CPU backend's quantile (std::nth_element) against a full sort with the same linear
// interpolation (torch.quantile "linear"): identical results, on random values with ties, signs
// and every size from 1 up.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <random>
#include <vector>

#include "cpu/soft_threshold.h"

namespace rootopt::detail::cpu {
namespace {

// Full sort, then v[lo] + (p - lo) (v[hi] - v[lo]) with p = q (n - 1).
double sorted_quantile(std::vector<float> values, double q) {
  for (float& v : values) v = std::fabs(v);
  std::sort(values.begin(), values.end());
  const double p = q * double(values.size() - 1);
  const auto lo = size_t(std::floor(p)), hi = size_t(std::ceil(p));
  return double(values[lo]) + (p - double(lo)) * (double(values[hi]) - double(values[lo]));
}

TEST(RuntimeQuantile, MatchesFullSortWithLinearInterpolation) {
  std::mt19937_64 rng(8);
  std::normal_distribution<float> normal;
  std::uniform_int_distribution<int> small(-3, 3);
  for (const int64_t n : {1, 2, 3, 10, 99, 1000, 4099}) {
    for (const double q : {1e-4, 0.1, 0.5, 0.9, 0.95, 0.999, 1.0}) {
      for (const bool ties : {false, true}) {
        std::vector<float> values(static_cast<size_t>(n));
        for (float& v : values) v = ties ? float(small(rng)) : normal(rng);
        std::vector<float> scratch(values.size());
        const float got = abs_quantile(values.data(), n, q, scratch.data());
        ASSERT_EQ(got, float(sorted_quantile(values, q))) << "n " << n << " q " << q;
      }
    }
  }
}

TEST(RuntimeQuantile, ClampAndModes) {
  std::vector<float> values = {-3, -1, 0, 0.5f, 2, 10};
  std::vector<float> scratch(values.size());
  Hyperparams h;
  h.threshold_quantile = 0.5f;
  const float q = threshold_epsilon(values.data(), 6, h, scratch.data());
  EXPECT_FLOAT_EQ(q, float(sorted_quantile(values, 0.5)));
  h.threshold = ThresholdMode::fixed;
  h.threshold_value = 1.5f;
  EXPECT_EQ(threshold_epsilon(values.data(), 6, h, scratch.data()), 1.5f);
  h.threshold = ThresholdMode::off;
  EXPECT_TRUE(std::isinf(threshold_epsilon(values.data(), 6, h, scratch.data())));
  clamp_in_place(values.data(), 6, 1.5f);
  EXPECT_EQ(values, (std::vector<float>{-1.5f, -1, 0, 0.5f, 1.5f, 1.5f}));
}

}  // namespace
}  // namespace rootopt::detail::cpu
