// Matrix-level reference: matrices with a prescribed spectrum, real Newton-Schulz iterations
// (core/newton_schulz_recipe.cpp) in fp64 / fp32 / tf32 / emulated bf16, and their error against
// the SVD polar factor.
#include "rootopt/matrix_reference.h"

#include <Eigen/Dense>
#include <algorithm>
#include <cmath>
#include <limits>
#include <random>
#include <vector>

#include "check.h"
#include "lapack_qr.h"
#include "lapack_svd.h"
#include "newton_schulz_recipe.h"
#include "seeding.h"

namespace rootopt {
namespace {

// Haar-distributed k orthonormal columns in R^m: QR of a Gaussian m x k matrix with the signs
// of R's diagonal moved into Q (Mezzadri 2007, "How to generate random matrices from the
// classical compact groups"), without which Q is not Haar.
Eigen::MatrixXd haar_columns(int64_t m, int64_t k, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<double> normal;
  detail::ThinQr qr =
      detail::lapack_thin_qr(Eigen::MatrixXd::NullaryExpr(m, k, [&]() { return normal(rng); }));
  for (int64_t j = 0; j < k; ++j)
    if (qr.r_diagonal[j] < 0) qr.q.col(j) *= -1.0;
  return std::move(qr.q);
}

// k distinct standard basis vectors of R^m with random signs, in random order.
Eigen::MatrixXd coherent_columns(int64_t m, int64_t k, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::vector<int64_t> rows(static_cast<size_t>(m));
  for (int64_t i = 0; i < m; ++i) rows[size_t(i)] = i;
  std::shuffle(rows.begin(), rows.end(), rng);
  Eigen::MatrixXd q = Eigen::MatrixXd::Zero(m, k);
  for (int64_t j = 0; j < k; ++j) q(rows[size_t(j)], j) = (rng() & 1) ? 1.0 : -1.0;
  return q;
}

// The wide (rows <= cols) orientation of b as a row-major matrix of `Scalar`.
template <typename Scalar>
detail::RowMajorMatrix<Scalar> wide_copy(const Eigen::MatrixXd& b) {
  if (b.rows() > b.cols()) return b.transpose().cast<Scalar>();
  return b.cast<Scalar>();
}

template <typename Scalar>
Eigen::MatrixXd run_recipe(const Eigen::MatrixXd& b, const Recipe& recipe, Precision working) {
  detail::RowMajorMatrix<Scalar> x = wide_copy<Scalar>(b);
  detail::NewtonSchulzWorkspace<Scalar> workspace;
  workspace.reserve(x.rows(), x.cols(), recipe, working);
  detail::newton_schulz_recipe(x.data(), x.rows(), x.cols(), recipe, working, workspace);
  if (b.rows() > b.cols()) return x.transpose().template cast<double>();
  return x.template cast<double>();
}

}  // namespace

Eigen::MatrixXd matrix_with_spectrum(Shape shape, const Spectrum& s, uint64_t seed,
                                     SingularVectors vectors) {
  const int64_t r = shape.rank();
  ROOTOPT_CHECK(r > 0, "matrix_with_spectrum: shape ", to_string(shape), " has a zero dimension");
  ROOTOPT_CHECK(int64_t(s.size()) == r, "matrix_with_spectrum: ", s.size(),
                " singular values for shape ", to_string(shape), " (need ", r, ")");
  for (size_t i = 0; i < s.size(); ++i)
    ROOTOPT_CHECK(std::isfinite(s[i]) && s[i] >= 0, "matrix_with_spectrum: singular value ", i,
                  " = ", s[i], " is negative or not finite");
  // Coherent vectors go on the long side (rows when square).
  const auto columns = [&](int64_t m, bool long_side, uint64_t stream) {
    const uint64_t s = detail::derive_seed(seed, stream);
    return vectors == SingularVectors::coherent && long_side ? coherent_columns(m, r, s)
                                                             : haar_columns(m, r, s);
  };
  const Eigen::MatrixXd u = columns(shape.rows, shape.rows >= shape.cols, 0);
  const Eigen::MatrixXd v = columns(shape.cols, shape.rows < shape.cols, 1);
  const Eigen::Map<const Eigen::VectorXd> values(s.data(), Eigen::Index(r));
  return u * values.asDiagonal() * v.transpose();
}

Eigen::MatrixXd newton_schulz(const Eigen::MatrixXd& b, const Recipe& recipe, Precision working) {
  ROOTOPT_CHECK(b.size() > 0, "newton_schulz on an empty ", b.rows(), "x", b.cols(), " matrix");
  ROOTOPT_CHECK(b.allFinite(), "newton_schulz on a matrix with non-finite entries");
  recipe.validate("newton_schulz", /*matrix_level=*/true);
  if (working == Precision::fp64) return run_recipe<double>(b, recipe, working);
  return run_recipe<float>(b, recipe, working);
}

MatrixError matrix_error(const Eigen::MatrixXd& x, const PolarFactor& reference) {
  ROOTOPT_CHECK(x.rows() == reference.polar.rows() && x.cols() == reference.polar.cols(),
                "matrix_error: result is ", x.rows(), "x", x.cols(), " but the polar factor is ",
                reference.polar.rows(), "x", reference.polar.cols());
  const Spectrum sv = detail::lapack_singular_values(x);
  MatrixError err;
  err.rms = (x - reference.polar).norm() / std::sqrt(double(sv.size()));
  err.max_sv = sv.front();
  err.min_sv = sv.back();
  for (double s : sv) err.max_dev = std::max(err.max_dev, std::abs(s - 1.0));
  return err;
}

}  // namespace rootopt
