#include "reference_root.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

#include "svd_reference.h"

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

Eigen::VectorXd reference_step(ReferenceMatrix& state, const Eigen::MatrixXd& grad,
                               const Hyperparams& h, const Recipe& recipe) {
  const double mu = h.momentum;
  state.momentum = mu * state.momentum + grad;
  const Eigen::MatrixXd u =
      h.nesterov ? Eigen::MatrixXd(grad + mu * state.momentum) : state.momentum;
  double eps = std::numeric_limits<double>::infinity();
  if (h.threshold == ThresholdMode::quantile) eps = reference_abs_quantile(u, h.threshold_quantile);
  if (h.threshold == ThresholdMode::fixed) eps = h.threshold_value;
  const Eigen::MatrixXd clamped = u.cwiseMax(-eps).cwiseMin(eps);
  const SvdReference ns = svd_reference(clamped, recipe, 1e-7);
  const double m = double(state.theta.rows()), n = double(state.theta.cols());
  double scale = 1;
  if (h.scale == ScaleMode::rms) scale = 0.2 * std::sqrt(std::max(m, n));
  if (h.scale == ScaleMode::spectral) scale = std::sqrt(std::max(1.0, m / n));
  const double lr = h.lr;
  state.theta = state.theta * (1 - lr * double(h.weight_decay)) - lr * scale * ns.x;
  return ns.step1_input;
}

}  // namespace rootopt::testing
