// Keeps the search's iterates finite: a wild start point (a perturbed schedule whose first step
// overshoots) makes x_k grow like x^(5^k) and overflow, and NLopt's SLSQP does not survive
// NaN. Beyond |x| = kIterateCap the iterate is replaced by cap + log(1 + |x| - cap), which is
// monotone with a continuous derivative, so the search still sees the way back. Every safe
// schedule's iterates stay far below the cap, where this is the identity.
#pragma once

#include <cmath>

namespace rootopt::tuner {

inline constexpr double kIterateCap = 1e3;

struct Saturated {
  double value;
  double slope;  // d value / d x
};

inline Saturated saturate(double x) {
  const double magnitude = std::fabs(x);
  if (magnitude <= kIterateCap) return {x, 1.0};
  if (!std::isfinite(x)) return {std::copysign(kIterateCap + 1e3, x), 0.0};
  const double excess = magnitude - kIterateCap;
  return {std::copysign(kIterateCap + std::log1p(excess), x), 1.0 / (1.0 + excess)};
}

}  // namespace rootopt::tuner
