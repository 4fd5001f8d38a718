#include "constraints.h"

#include <algorithm>

#include "check.h"

namespace rootopt::tuner {
namespace {

// p_k(0) = 0 exactly, so a step minimum below zero by more than rounding is a sign flip.
constexpr double kStepMinTolerance = 1e-12;

}  // namespace

SafetyConstraints::SafetyConstraints(int64_t grid_points, int64_t steps)
    : grid_points_(grid_points), steps_(steps) {
  ROOTOPT_CHECK(grid_points >= 8, "constraint grid of ", grid_points, " points (need >= 8)");
  ROOTOPT_CHECK(steps >= 1, "steps = ", steps);
}

void SafetyConstraints::evaluate(const std::vector<QuinticStep>& steps,
                                 const ConstraintBounds& bounds, double* result,
                                 double* grad_per_step) const {
  const int64_t K = steps_, G = grid_points_, n = 3 * K;
  ROOTOPT_CHECK(static_cast<int64_t>(steps.size()) == K, "constraints: ", steps.size(),
                " steps, expected ", K);
  std::vector<double> jacobian(
      static_cast<size_t>(n));  // d x_k / d(coefficients) at the current point
  for (int64_t g = 0; g < G; ++g) {
    double x = double(g + 1) / double(G);
    std::fill(jacobian.begin(), jacobian.end(), 0.0);
    for (int64_t k = 0; k < K; ++k) {
      const QuinticStep& p = steps[size_t(k)];
      const double x2 = x * x, x4 = x2 * x2;
      const double gain = p.a + x2 * (p.b + x2 * p.c);
      const int64_t row = k * G + g;  // gain rows first, grouped by step
      result[row] = bounds.gain_floor - gain;
      if (grad_per_step) {
        double* out = grad_per_step + row * n;
        const double dgain_dx = x * (2.0 * p.b + 4.0 * p.c * x2);
        for (int64_t t = 0; t < n; ++t) out[t] = -dgain_dx * jacobian[size_t(t)];
        out[3 * k] -= 1.0;
        out[3 * k + 1] -= x2;
        out[3 * k + 2] -= x4;
        // Advance the Jacobian through p_k: J <- p_k'(x) J + d p_k / d(a_k, b_k, c_k).
        const double slope = p.a + x2 * (3.0 * p.b + 5.0 * p.c * x2);
        for (int64_t t = 0; t < 3 * k; ++t) jacobian[size_t(t)] *= slope;
        jacobian[size_t(3 * k)] = x;
        jacobian[size_t(3 * k + 1)] = x * x2;
        jacobian[size_t(3 * k + 2)] = x * x4;
      }
      x *= gain;
    }
    const int64_t row = K * G + g;
    result[row] = x - bounds.upper;
    if (grad_per_step) std::copy(jacobian.begin(), jacobian.end(), grad_per_step + row * n);
  }
}

SafetyReport verify_safety(const Schedule& schedule, double envelope_bound) {
  SafetyReport report;
  report.envelope = envelope(schedule);
  const std::vector<double> minima = step_minima(schedule);
  report.step_min = *std::min_element(minima.begin(), minima.end());
  report.safe = report.envelope.max_value <= envelope_bound &&
                report.envelope.min_value >= -kStepMinTolerance &&
                report.step_min >= -kStepMinTolerance;
  return report;
}

}  // namespace rootopt::tuner
