#include "reference_root.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

namespace rootopt::testing {

double reference_abs_quantile(const Eigen::MatrixXd& values, double q) {
  std::vector<double> sorted;
  for (Eigen::Index i = 0; i < values.size(); ++i) sorted.push_back(std::abs(values.data()[i]));
  std::sort(sorted.begin(), sorted.end());
  const double position = q * double(sorted.size() - 1);
  const auto below = size_t(std::floor(position));
  const auto above = size_t(std::ceil(position));
  return sorted[below] + (position - double(below)) * (sorted[above] - sorted[below]);
}

Eigen::MatrixXd reference_newton_schulz(const Eigen::MatrixXd& b, const Schedule& schedule) {
  const bool tall = b.rows() > b.cols();
  Eigen::MatrixXd x = tall ? Eigen::MatrixXd(b.transpose()) : b;
  double sum_of_squares = 0;
  for (Eigen::Index i = 0; i < x.size(); ++i) sum_of_squares += x.data()[i] * x.data()[i];
  x /= std::sqrt(sum_of_squares) + 1e-7;
  for (const QuinticStep& step : schedule.steps()) {
    const Eigen::MatrixXd a = x * x.transpose();
    const Eigen::MatrixXd poly = step.b * a + step.c * a * a;
    x = step.a * x + poly * x;
  }
  return tall ? Eigen::MatrixXd(x.transpose()) : x;
}

void reference_step(ReferenceMatrix& state, const Eigen::MatrixXd& grad, const Hyperparams& h,
                    const Schedule& schedule) {
  const double mu = h.momentum;
  state.momentum = mu * state.momentum + grad;
  const Eigen::MatrixXd u =
      h.nesterov ? Eigen::MatrixXd(grad + mu * state.momentum) : state.momentum;
  double eps = std::numeric_limits<double>::infinity();
  if (h.threshold == ThresholdMode::quantile) eps = reference_abs_quantile(u, h.threshold_quantile);
  if (h.threshold == ThresholdMode::fixed) eps = h.threshold_value;
  const Eigen::MatrixXd clamped = u.cwiseMax(-eps).cwiseMin(eps);
  const Eigen::MatrixXd x = reference_newton_schulz(clamped, schedule);
  const double m = double(state.theta.rows()), n = double(state.theta.cols());
  double scale = 1;
  if (h.scale == ScaleMode::rms) scale = 0.2 * std::sqrt(std::max(m, n));
  if (h.scale == ScaleMode::spectral) scale = std::sqrt(std::max(1.0, m / n));
  const double lr = h.lr;
  state.theta = state.theta * (1 - lr * double(h.weight_decay)) - lr * scale * x;
}

}  // namespace rootopt::testing
