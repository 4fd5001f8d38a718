#include "soft_threshold.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include "check.h"

namespace rootopt::detail::cpu {

float abs_quantile(const float* values, int64_t count, double q, float* scratch) {
  ROOTOPT_ASSERT(count > 0, "quantile of an empty matrix");
  ROOTOPT_CHECK(q > 0 && q <= 1, "quantile q = ", q, " outside (0, 1]");
  for (int64_t i = 0; i < count; ++i) scratch[i] = std::fabs(values[i]);
  const double position = q * static_cast<double>(count - 1);
  const auto lo = static_cast<int64_t>(std::floor(position));
  const double fraction = position - static_cast<double>(lo);
  float* const end = scratch + count;
  std::nth_element(scratch, scratch + lo, end);
  const double below = scratch[lo];
  // After nth_element every element past `lo` is >= scratch[lo]; the next order statistic is
  // the smallest of them.
  const double above =
      (fraction > 0 && lo + 1 < count) ? *std::min_element(scratch + lo + 1, end) : below;
  return static_cast<float>(below + fraction * (above - below));
}

float threshold_epsilon(const float* values, int64_t count, const Hyperparams& hyperparams,
                        float* scratch) {
  switch (hyperparams.threshold) {
    case ThresholdMode::quantile:
      return abs_quantile(values, count, hyperparams.threshold_quantile, scratch);
    case ThresholdMode::fixed:
      return hyperparams.threshold_value;
    case ThresholdMode::off:
      return std::numeric_limits<float>::infinity();
  }
  ROOTOPT_ASSERT(false, "unknown threshold mode ", static_cast<int>(hyperparams.threshold));
}

void clamp_in_place(float* values, int64_t count, float eps) {
  for (int64_t i = 0; i < count; ++i) values[i] = std::min(std::max(values[i], -eps), eps);
}

}  // namespace rootopt::detail::cpu
