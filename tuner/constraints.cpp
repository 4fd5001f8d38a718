#include "constraints.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include "check.h"
#include "saturation.h"

namespace rootopt::tuner {
namespace {

// p_k(0) = 0 exactly, so a step minimum below zero by more than rounding is a sign flip.
constexpr double kStepMinTolerance = 1e-12;
// Where the initial grid switches from geometric to uniform spacing.
constexpr double kGridSplit = 0.05;
// Dense scan of violating_points(): same resolution as rootopt::envelope()'s default grid.
constexpr int64_t kScanPoints = 20001;

}  // namespace

SafetyConstraints::SafetyConstraints(int64_t grid_points, int64_t steps) : steps_(steps) {
  ROOTOPT_CHECK(grid_points >= 8, "constraint grid of ", grid_points, " points (need >= 8)");
  ROOTOPT_CHECK(steps >= 1, "steps = ", steps);
  const int64_t geometric = grid_points / 2, uniform = grid_points - geometric;
  for (int64_t g = 0; g < geometric; ++g)
    points_.push_back(kGridStart * std::pow(kGridSplit / kGridStart, double(g) / geometric));
  for (int64_t g = 0; g < uniform; ++g)
    points_.push_back(kGridSplit + (1.0 - kGridSplit) * double(g + 1) / double(uniform));
}

void SafetyConstraints::add_points(const std::vector<double>& points) {
  for (double s : points) {
    ROOTOPT_CHECK(s > 0 && s <= 1, "constraint point ", s, " outside (0, 1]");
    points_.push_back(s);
  }
}

void SafetyConstraints::evaluate(const std::vector<QuinticStep>& steps,
                                 const ConstraintBounds& bounds, double* result,
                                 double* grad_per_step) const {
  const int64_t K = steps_, G = int64_t(points_.size()), n = 3 * K;
  ROOTOPT_ASSERT(static_cast<int64_t>(steps.size()) == K, "constraints: ", steps.size(),
                 " steps, expected ", K);
  // d x_k / d(coefficients) at the current point.
  std::vector<double> jacobian(static_cast<size_t>(n));
  for (int64_t g = 0; g < G; ++g) {
    double x = points_[size_t(g)];
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
      }
      const Saturated next = saturate(x * gain);
      if (grad_per_step) {
        // Advance the Jacobian through p_k: J <- p_k'(x) J + d p_k / d(a_k, b_k, c_k).
        const double slope = p.a + x2 * (3.0 * p.b + 5.0 * p.c * x2);
        for (int64_t t = 0; t < 3 * k; ++t) jacobian[size_t(t)] *= slope * next.slope;
        jacobian[size_t(3 * k)] = x * next.slope;
        jacobian[size_t(3 * k + 1)] = x * x2 * next.slope;
        jacobian[size_t(3 * k + 2)] = x * x4 * next.slope;
      }
      x = next.value;
    }
    const int64_t row = K * G + g;
    result[row] = x - bounds.upper;
    if (grad_per_step) std::copy(jacobian.begin(), jacobian.end(), grad_per_step + row * n);
  }
}

SafetyReport verify_safety(const Schedule& schedule, double envelope_bound) {
  SafetyReport report;
  report.envelope = envelope(schedule);
  report.step_min = std::numeric_limits<double>::quiet_NaN();
  // The step minima are only looked at for a schedule whose composed map is within bounds:
  // a wild candidate's intermediate images can be astronomically wide intervals.
  if (!(report.envelope.max_value <= envelope_bound &&
        report.envelope.min_value >= -kStepMinTolerance))
    return report;
  const std::vector<double> minima = step_minima(schedule);
  report.step_min = *std::min_element(minima.begin(), minima.end());
  report.safe = report.step_min >= -kStepMinTolerance;
  return report;
}

std::vector<double> violating_points(const Schedule& schedule, const SafetyReport& report,
                                     double envelope_bound) {
  std::vector<double> points;
  const auto keep = [&points](double s) {
    if (s > 0 && s <= 1) points.push_back(s);
  };
  if (report.envelope.max_value > envelope_bound) keep(report.envelope.argmax);
  if (report.envelope.min_value < 0) keep(report.envelope.argmin);
  // Per step, the scan point whose iterate meets that step's most negative gain.
  const int64_t K = schedule.size();
  std::vector<double> worst_gain(size_t(K), 0.0), worst_s(size_t(K), 0.0);
  for (int64_t i = 1; i < kScanPoints; ++i) {
    const double s = double(i) / double(kScanPoints - 1);
    double x = s;
    for (int64_t k = 0; k < K; ++k) {
      const QuinticStep& p = schedule[k];
      const double gain = p.a + x * x * (p.b + x * x * p.c);
      if (gain < worst_gain[size_t(k)]) worst_gain[size_t(k)] = gain, worst_s[size_t(k)] = s;
      x = saturate(x * gain).value;
    }
  }
  for (int64_t k = 0; k < K; ++k)
    if (worst_gain[size_t(k)] < 0) keep(worst_s[size_t(k)]);
  return points;
}

}  // namespace rootopt::tuner
