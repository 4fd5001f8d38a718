// Matrix-level reference: matrices with a prescribed spectrum, real Newton-Schulz iterations in
// fp64 / fp32 / emulated bf16, and their error against the SVD polar factor.
#include "rootopt/matrix_reference.h"

#include <Eigen/Dense>
#include <cmath>
#include <limits>
#include <random>

#include "check.h"
#include "lapack_qr.h"
#include "lapack_svd.h"
#include "rootopt/bf16.h"
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

// One precision's arithmetic: the scalar type of the GEMMs, and what happens to every GEMM or
// elementwise output (nothing, or rounding to bf16).
struct Exact {
  template <typename M>
  void operator()(M&) const {}
};
struct RoundToBf16 {
  void operator()(Eigen::MatrixXf& m) const {
    m = m.unaryExpr([](float v) { return round_to_bf16(v); });
  }
};

// K quintic steps on a wide (rows <= cols) X0:  A = X X^T;  B = b A + c A^2;  X <- a X + B X.
// Eigen's float GEMM accumulates in fp32, as tensor cores do for bf16 operands.
template <typename Scalar, typename Round>
Eigen::MatrixXd iterate(const Eigen::MatrixXd& x0, const Schedule& schedule, Round round) {
  using M = Eigen::Matrix<Scalar, Eigen::Dynamic, Eigen::Dynamic>;
  M x = x0.cast<Scalar>();
  round(x);
  const Eigen::Index r = x.rows();
  M a(r, r), a2(r, r), b(r, r), bx(x.rows(), x.cols());
  for (const QuinticStep& step : schedule.steps()) {
    // X X^T as a symmetric rank update (half the flops of a general GEMM), then mirrored.
    a.setZero();
    a.template selfadjointView<Eigen::Lower>().rankUpdate(x);
    a.template triangularView<Eigen::StrictlyUpper>() = a.transpose();
    round(a);
    a2.noalias() = a * a;
    round(a2);
    b = Scalar(step.b) * a + Scalar(step.c) * a2;
    round(b);
    bx.noalias() = b * x;
    round(bx);
    x = Scalar(step.a) * x + bx;
    round(x);
  }
  return x.template cast<double>();
}

}  // namespace

Eigen::MatrixXd matrix_with_spectrum(Shape shape, const Spectrum& s, uint64_t seed) {
  const int64_t r = shape.rank();
  ROOTOPT_CHECK(r > 0, "matrix_with_spectrum: shape ", to_string(shape), " has a zero dimension");
  ROOTOPT_CHECK(int64_t(s.size()) == r, "matrix_with_spectrum: ", s.size(),
                " singular values for shape ", to_string(shape), " (need ", r, ")");
  for (size_t i = 0; i < s.size(); ++i)
    ROOTOPT_CHECK(std::isfinite(s[i]) && s[i] >= 0, "matrix_with_spectrum: singular value ", i,
                  " = ", s[i], " is negative or not finite");
  const Eigen::MatrixXd u = haar_columns(shape.rows, r, detail::derive_seed(seed, 0));
  const Eigen::MatrixXd v = haar_columns(shape.cols, r, detail::derive_seed(seed, 1));
  const Eigen::Map<const Eigen::VectorXd> values(s.data(), Eigen::Index(r));
  return u * values.asDiagonal() * v.transpose();
}

Eigen::MatrixXd newton_schulz(const Eigen::MatrixXd& b, const Schedule& schedule,
                              Precision precision) {
  ROOTOPT_CHECK(b.size() > 0, "newton_schulz on an empty ", b.rows(), "x", b.cols(), " matrix");
  ROOTOPT_CHECK(b.allFinite(), "newton_schulz on a matrix with non-finite entries");
  const bool tall = b.rows() > b.cols();
  // X0 = B / (||B||_F + tiny): tiny only guards a zero matrix, so sum s_i^2 = 1 holds to
  // rounding and the spectral prediction applies exactly.
  const double scale = 1.0 / (b.norm() + std::numeric_limits<double>::min());
  const Eigen::MatrixXd x0 =
      tall ? Eigen::MatrixXd(b.transpose() * scale) : Eigen::MatrixXd(b * scale);
  Eigen::MatrixXd x;
  switch (precision) {
    case Precision::fp64:
      x = iterate<double>(x0, schedule, Exact{});
      break;
    case Precision::fp32:
      x = iterate<float>(x0, schedule, Exact{});
      break;
    case Precision::bf16:
      x = iterate<float>(x0, schedule, RoundToBf16{});
      break;
    case Precision::tf32:
      ROOTOPT_FAIL("newton_schulz: tf32 emulation is not implemented yet");
  }
  if (tall) x.transposeInPlace();
  return x;
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
