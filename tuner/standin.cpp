// TEMPORARY: see standin.h.
#include "standin.h"

#include <Eigen/Dense>
#include <cmath>
#include <cstring>

#include "check.h"
#include "rootopt/bf16.h"

namespace rootopt::tuner::standin {
namespace {

double weight(Precision p) {
  switch (p) {
    case Precision::bf16:
      return 1;
    case Precision::tf32:
      return 2;
    default:
      return 15;
  }
}

double raw_cost(const Recipe& recipe, Shape shape) {
  const double r = double(shape.canonical().rows), L = double(shape.canonical().cols);
  const int64_t K = recipe.steps();
  double total = 0;
  auto w = [&](int64_t k) { return weight(recipe.step_precision(k, Precision::bf16)); };
  if (recipe.form == IterationForm::standard) {
    for (int64_t k = 0; k < K; ++k) total += w(k) * (3 * r * r * L + r * r * r);
    return total;
  }
  total += w(0) * r * r * L + w(K - 1) * 2 * r * r * L;
  bool q_identity = true;
  for (int64_t k = 0; k < K; ++k) {
    double step = r * r * r;
    if (!q_identity) step += 2 * r * r * r;
    q_identity = false;
    if (k + 1 < K) {
      const bool restart =
          std::find(recipe.restarts.begin(), recipe.restarts.end(), k + 1) != recipe.restarts.end();
      if (restart) {
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

float tf32(float v) {
  uint32_t u;
  std::memcpy(&u, &v, 4);
  u += 0xfffu + ((u >> 13) & 1u);
  u &= 0xffffe000u;
  std::memcpy(&v, &u, 4);
  return v;
}

using M = Eigen::MatrixXf;

void rnd(M& m, Precision p) {
  if (p == Precision::bf16) m = m.unaryExpr([](float v) { return round_to_bf16(v); });
}
M operand(const M& m, Precision p) {
  if (p == Precision::tf32) return m.unaryExpr([](float v) { return tf32(v); });
  return m;
}
M mul(const M& a, const M& b, Precision p) {
  M out = operand(a, p) * operand(b, p);
  return out;
}

}  // namespace

double recipe_cost(const Recipe& recipe, Shape shape) {
  Recipe pe = builtin_recipe("polar-express", shape);
  return raw_cost(recipe, shape) / raw_cost(pe, shape);
}

Eigen::MatrixXd newton_schulz(const Eigen::MatrixXd& b, const Recipe& recipe, Precision working) {
  const bool tall = b.rows() > b.cols();
  const Eigen::MatrixXd wide = tall ? Eigen::MatrixXd(b.transpose()) : b;
  const int64_t K = recipe.steps();
  auto prec = [&](int64_t k) { return recipe.step_precision(k, working); };
  M x0 = (wide / (wide.norm() + 1e-7)).cast<float>();
  rnd(x0, prec(0));
  const Eigen::Index r = x0.rows();
  M a = mul(x0, x0.transpose(), prec(0));
  rnd(a, prec(0));
  M a2 = mul(a, a, prec(0));
  double alpha = 1;
  if (recipe.normalization != Normalization::frobenius) {
    double s = 0;
    const M& src = recipe.normalization == Normalization::schatten4 ? a : a2;
    for (Eigen::Index i = 0; i < src.size(); ++i) s += double(src.data()[i]) * src.data()[i];
    alpha =
        recipe.normalization == Normalization::schatten4 ? std::pow(s, 0.25) : std::pow(s, 0.125);
    if (!(s > 0) || !std::isfinite(alpha)) alpha = 1;
  }
  auto coeffs = [&](int64_t k) {
    QuinticStep t = recipe.schedule[k];
    if (k == 0) t = {t.a / alpha, t.b / std::pow(alpha, 3), t.c / std::pow(alpha, 5)};
    return t;
  };
  const M eye = M::Identity(r, r);
  M x = x0;
  if (recipe.form == IterationForm::standard) {
    for (int64_t k = 0; k < K; ++k) {
      const Precision p = prec(k);
      const QuinticStep t = coeffs(k);
      if (k > 0) {
        a = mul(x, x.transpose(), p);
        rnd(a, p);
        a2 = mul(a, a, p);
      }
      M h = float(t.b) * a + float(t.c) * a2;
      if (k == 0 && recipe.normalization != Normalization::frobenius) h += float(t.a) * eye;
      rnd(h, p);
      M next = mul(h, x, p);
      if (!(k == 0 && recipe.normalization != Normalization::frobenius)) next += float(t.a) * x;
      rnd(next, p);
      x = next;
    }
  } else {
    M rmat = a, q = eye;
    bool q_identity = true;
    for (int64_t k = 0; k < K; ++k) {
      const Precision p = prec(k);
      const QuinticStep t = coeffs(k);
      M r2 = k == 0 ? a2 : mul(rmat, rmat, p);
      M h = float(t.a) * eye + float(t.b) * rmat + float(t.c) * r2;
      rnd(h, p);
      if (q_identity) {
        q = h;
      } else {
        q = mul(h, q, p);
        rnd(q, p);
      }
      q_identity = false;
      if (k + 1 == K) break;
      const bool restart =
          std::find(recipe.restarts.begin(), recipe.restarts.end(), k + 1) != recipe.restarts.end();
      if (restart) {
        x = mul(q, x, p);
        rnd(x, p);
        rmat = mul(x, x.transpose(), p);
        rnd(rmat, p);
        q_identity = true;
      } else {
        M tm = mul(h, rmat, p);
        rnd(tm, p);
        rmat = mul(tm, h, p);
        rnd(rmat, p);
      }
    }
    x = mul(q, x, prec(K - 1));
    rnd(x, prec(K - 1));
  }
  Eigen::MatrixXd out = x.cast<double>();
  if (tall) out.transposeInPlace();
  return out;
}

}  // namespace rootopt::tuner::standin
