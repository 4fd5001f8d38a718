#include "svd_reference.h"

#include <Eigen/Dense>
#include <algorithm>
#include <cmath>
#include <limits>

namespace rootopt::testing {

SvdReference svd_reference(const Eigen::MatrixXd& b, const Recipe& recipe, double guard) {
  const bool tall = b.rows() > b.cols();
  Eigen::MatrixXd x0 = tall ? Eigen::MatrixXd(b.transpose()) : b;
  x0 /= x0.norm() + guard;
  if (recipe.normalization == Normalization::aol) {
    const Eigen::MatrixXd gram = x0 * x0.transpose();
    for (Eigen::Index i = 0; i < x0.rows(); ++i)
      x0.row(i) /= std::sqrt(std::max(gram.row(i).cwiseAbs().sum(), 1e-7));
  }
  const Eigen::BDCSVD<Eigen::MatrixXd> svd(x0, Eigen::ComputeThinU | Eigen::ComputeThinV);
  const Eigen::VectorXd s = svd.singularValues();
  double alpha = 1;
  // frobenius: X0 is the normalised matrix already (with the guard, exactly as given).
  const bool schatten = recipe.normalization == Normalization::schatten4 ||
                        recipe.normalization == Normalization::schatten8;
  if (schatten && s.maxCoeff() > 0) {
    const double p = schatten_order(recipe.normalization);
    alpha = std::pow(s.array().pow(p).sum(), 1.0 / p);
  }
  SvdReference out;
  out.step1_input = s / alpha;
  out.condition =
      s.minCoeff() > 0 ? s.maxCoeff() / s.minCoeff() : std::numeric_limits<double>::infinity();
  Eigen::VectorXd mapped = out.step1_input;
  for (Eigen::Index i = 0; i < mapped.size(); ++i) mapped[i] = recipe.schedule.map(mapped[i]);
  out.x = svd.matrixU() * mapped.asDiagonal() * svd.matrixV().transpose();
  if (tall) out.x.transposeInPlace();
  return out;
}

double rounding_amplification(const Schedule& schedule, const Eigen::VectorXd& step1_input) {
  Eigen::VectorXd x = step1_input;
  double total = 0;
  for (int64_t k = 0; k <= schedule.size(); ++k) {
    double worst = 0;
    for (Eigen::Index i = 0; i < x.size(); ++i) {
      double v = x[i], slope = 1;
      for (int64_t j = k; j < schedule.size(); ++j) {
        const QuinticStep& st = schedule[j];
        const double v2 = v * v;
        slope *= st.a + 3 * st.b * v2 + 5 * st.c * v2 * v2;
        v = st(v);
      }
      worst = std::max({worst, std::abs(slope), x[i] > 0 ? std::abs(v / x[i]) : 0.0});
    }
    total += worst * worst;
    if (k < schedule.size())
      for (Eigen::Index i = 0; i < x.size(); ++i) x[i] = schedule[k](x[i]);
  }
  return std::sqrt(total);
}

double relative_difference(const Eigen::MatrixXd& a, const Eigen::MatrixXd& b) {
  return (a - b).norm() / b.norm();
}

}  // namespace rootopt::testing
