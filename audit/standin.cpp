// TEMPORARY: see standin.h.
#include "standin.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include "check.h"
#include "rootopt/matrix_reference.h"

namespace rootopt::audit::standin {
namespace {

double weight(Precision p, CostProfile profile) {
  if (profile == CostProfile::cpu) return 1;
  return p == Precision::bf16 ? 1 : p == Precision::tf32 ? 2 : 15;
}

double flops(const Recipe& recipe, Shape shape, CostProfile profile) {
  const Shape wide = shape.canonical();
  const double r = double(wide.rows), L = double(wide.cols);
  const int64_t k_steps = recipe.steps();
  const auto w = [&](int64_t k) {
    return weight(recipe.step_precision(k, Precision::bf16), profile);
  };
  double total = 0;
  if (recipe.form == IterationForm::standard) {
    for (int64_t k = 0; k < k_steps; ++k) total += w(k) * (3 * r * r * L + r * r * r);
    return total;
  }
  total += w(0) * r * r * L + w(k_steps - 1) * 2 * r * r * L;
  bool q_identity = true;
  for (int64_t k = 0; k < k_steps; ++k) {
    double step = r * r * r + (q_identity ? 0 : 2 * r * r * r);
    q_identity = false;
    if (k + 1 < k_steps) {
      if (std::find(recipe.restarts.begin(), recipe.restarts.end(), k + 1) !=
          recipe.restarts.end()) {
        step += 3 * r * r * L;
        q_identity = true;
      } else {
        step += 3 * r * r * r;
      }
    }
    total += w(k) * step;
  }
  return total;
}

}  // namespace

double recipe_cost(const Recipe& recipe, Shape shape, CostProfile profile) {
  return flops(recipe, shape, profile) /
         flops(builtin_recipe("polar-express", shape), shape, CostProfile::gpu);
}

Eigen::MatrixXd newton_schulz(const Eigen::MatrixXd& b, const Recipe& recipe, Precision working) {
  ROOTOPT_CHECK(recipe.form == IterationForm::standard && recipe.tail_steps == 0,
                "this build's matrix-level emulation runs standard-form recipes without a "
                "precision tail only (recipe: ",
                recipe.describe(), ")");
  if (recipe.normalization == Normalization::frobenius)
    return rootopt::newton_schulz(b, recipe.schedule, working);
  const bool tall = b.rows() > b.cols();
  const Eigen::MatrixXd wide = tall ? Eigen::MatrixXd(b.transpose()) : b;
  Eigen::MatrixXd input = wide / (wide.norm() + std::numeric_limits<double>::min());
  const Eigen::MatrixXd a = input * input.transpose();
  double alpha = 1;
  if (recipe.normalization == Normalization::aol) {
    for (Eigen::Index i = 0; i < a.rows(); ++i)
      input.row(i) /= std::sqrt(std::max(a.row(i).cwiseAbs().sum(), 1e-7));
  } else {
    // ||sigma||_4 = ||A||_F^(1/2), ||sigma||_8 = ||A^2||_F^(1/4); alpha = 1 for a zero matrix.
    const bool p4 = schatten_order(recipe.normalization) == 4;
    const double s = p4 ? a.squaredNorm() : (a * a).squaredNorm();
    const double root = std::pow(s, p4 ? 0.25 : 0.125);
    if (s > 0 && std::isfinite(root)) alpha = root;
  }
  // newton_schulz(Schedule) divides its input by f = ||input||_F (+ tiny); step 1 must act on
  // input / alpha = (f / alpha) y, so its coefficients take the factors g, g^3, g^5.
  const double g = (input.norm() + std::numeric_limits<double>::min()) / alpha;
  std::vector<QuinticStep> steps = recipe.schedule.steps();
  steps[0] = {steps[0].a * g, steps[0].b * g * g * g, steps[0].c * std::pow(g, 5)};
  Eigen::MatrixXd x =
      rootopt::newton_schulz(input, Schedule(recipe.schedule.name(), steps), working);
  if (tall) x.transposeInPlace();
  return x;
}

}  // namespace rootopt::audit::standin
