// Matrix level: matrices with a prescribed spectrum, the SVD polar factor, and real
// Newton-Schulz iterations against the spectral prediction (fp64) and against fp64 (fp32, bf16).
#include <gtest/gtest.h>

#include <Eigen/Dense>
#include <algorithm>
#include <cmath>
#include <vector>

#include "rootopt/bf16.h"
#include "rootopt/error.h"
#include "rootopt/matrix_reference.h"
#include "rootopt/spectrum_family.h"

namespace rootopt {
namespace {

TEST(MatrixWithSpectrum, HasTheSpectrumAndIsReproducible) {
  const auto solver = make_cpu_polar_solver();
  EXPECT_EQ(solver->name(), "lapack");
  for (Shape shape : {Shape{40, 100}, Shape{100, 40}, Shape{64, 64}}) {
    const Spectrum s = make_family("power-law")->sample(shape, 1);
    const Eigen::MatrixXd m = matrix_with_spectrum(shape, s, 4);
    ASSERT_EQ(m.rows(), shape.rows);
    ASSERT_EQ(m.cols(), shape.cols);
    EXPECT_TRUE(m.isApprox(matrix_with_spectrum(shape, s, 4), 0.0));
    EXPECT_FALSE(m.isApprox(matrix_with_spectrum(shape, s, 5), 1e-3));
    const PolarFactor pf = solver->polar(m);
    ASSERT_EQ(pf.singular_values.size(), s.size());
    // Backward-stable SVD of a norm-1 matrix: singular values to a few ulps of ||M|| = 1.
    for (size_t i = 0; i < s.size(); ++i) EXPECT_NEAR(pf.singular_values[i], s[i], 1e-14);
    // U V^T has orthonormal rows (wide) or columns (tall).
    const Eigen::MatrixXd gram = shape.rows <= shape.cols
                                     ? Eigen::MatrixXd(pf.polar * pf.polar.transpose())
                                     : Eigen::MatrixXd(pf.polar.transpose() * pf.polar);
    EXPECT_LT((gram - Eigen::MatrixXd::Identity(gram.rows(), gram.cols())).norm(), 1e-13);
    // and the polar decomposition reconstructs M: M = P H with H = P^T M symmetric PSD.
    const Eigen::MatrixXd h = pf.polar.transpose() * m;
    EXPECT_LT((pf.polar * h - m).norm(), 1e-13);
  }
  EXPECT_THROW(matrix_with_spectrum({4, 5}, {1.0, 0.5}, 1), Error);
  EXPECT_THROW(matrix_with_spectrum({2, 5}, {1.0, -0.5}, 1), Error);
}

// Coherent singular vectors: the same spectrum (checked by an independent fp64 SVD), and on the
// long side every row (tall) or column (wide) of the matrix is one singular direction: at most
// one nonzero singular-vector entry per row, so the rows' norms are exactly the singular values.
TEST(MatrixWithSpectrum, CoherentSingularVectorsLiveOnOneRowEach) {
  const auto solver = make_cpu_polar_solver();
  for (Shape shape : {Shape{40, 100}, Shape{100, 40}, Shape{48, 48}}) {
    const Spectrum s = make_family("power-law")->sample(shape, 2);
    const Eigen::MatrixXd m = matrix_with_spectrum(shape, s, 6, SingularVectors::coherent);
    EXPECT_TRUE(m.isApprox(matrix_with_spectrum(shape, s, 6, SingularVectors::coherent), 0.0));
    const PolarFactor pf = solver->polar(m);
    for (size_t i = 0; i < s.size(); ++i) EXPECT_NEAR(pf.singular_values[i], s[i], 1e-14);
    const Eigen::MatrixXd lines = shape.rows >= shape.cols ? m : Eigen::MatrixXd(m.transpose());
    std::vector<double> norms;
    for (Eigen::Index i = 0; i < lines.rows(); ++i)
      if (lines.row(i).norm() > 0) norms.push_back(lines.row(i).norm());
    std::sort(norms.rbegin(), norms.rend());
    ASSERT_EQ(norms.size(), s.size()) << to_string(shape);
    for (size_t i = 0; i < s.size(); ++i) EXPECT_NEAR(norms[i], s[i], 1e-14);
  }
}

// fp64: the matrix iteration equals the spectral prediction. X_K = U diag(p(s)) V^T exactly,
// so ||X_K - U V^T||_F / sqrt(r) = sqrt(mean (p(s_i) - 1)^2). Rounding in fp64 GEMMs of size
// <= 160 with |entries| <= 4: ~1e-14 per step; 1e-10 leaves room for the map's amplification.
TEST(NewtonSchulz, Fp64MatchesSpectralPrediction) {
  const auto solver = make_cpu_polar_solver();
  for (const char* family : {"marchenko-pastur", "power-law", "low-rank"}) {
    for (Shape shape : {Shape{48, 160}, Shape{160, 48}}) {
      const Spectrum s = make_family(family)->sample(shape, 21);
      const Eigen::MatrixXd b = 7.5 * matrix_with_spectrum(shape, s, 22);  // scale: NS normalises
      const PolarFactor reference = solver->polar(b);
      for (const char* name : {"muon", "polar-express", "root-paper"}) {
        const Schedule schedule = builtin_schedule(name, shape);
        const Eigen::MatrixXd x = newton_schulz(b, schedule, Precision::fp64);
        ASSERT_EQ(x.rows(), b.rows());
        const MatrixError m = matrix_error(x, reference);
        const SpectralError p = spectral_error(schedule, s);
        EXPECT_GT(x.norm(), 1.0);  // not all zero
        EXPECT_NEAR(m.rms, p.rms, 1e-10) << family << " " << to_string(shape) << " " << name;
        EXPECT_NEAR(m.max_sv, std::max(std::abs(p.max_value), std::abs(p.min_value)), 1e-10);
      }
    }
  }
}

double relative_rms(const Eigen::MatrixXd& x, const Eigen::MatrixXd& reference) {
  return (x - reference).norm() / reference.norm();
}

// First-order model of how rounding errors reach the result, per unit of relative error made
// at each step. X_k = U diag(x_k) V^T; an error E made after step k, written in the singular
// bases, changes X_K through the Frechet derivative of the remaining steps, which scales each
// component (i, j) of E (Higham, Functions of Matrices, 2008, ch. 3; for these odd maps on
// rectangular X, generalised matrix functions) by the product over the remaining steps of
//   (p(x_i) - p(x_j)) / (x_i - x_j)  on the symmetric part (p'(x_i) when i = j),
//   (p(x_i) + p(x_j)) / (x_i + x_j)  on the antisymmetric part, and
//   p(x_i) / x_i                     on the n - r columns outside the row space.
// Rounding errors have no preferred direction, so E spreads evenly over the r n components and
// they add in quadrature: the propagated size is ||E|| times the RMS of these factors, and the
// errors of the K + 1 roundings (X0 and after every step) add in quadrature too. Returns that
// total relative to ||X_K||_F for a relative error of 1 per step.
double rounding_error_model(const Schedule& schedule, const Spectrum& s, int64_t n) {
  const size_t r = s.size(), steps = size_t(schedule.size());
  std::vector<std::vector<double>> x{s};
  for (const QuinticStep& st : schedule.steps()) {
    std::vector<double> next;
    for (double v : x.back()) next.push_back(st(v));
    x.push_back(next);
  }
  const auto norm = [](const std::vector<double>& v) {
    double sum = 0;
    for (double e : v) sum += e * e;
    return std::sqrt(sum);
  };
  double total = 0;
  for (size_t k = 0; k <= steps; ++k) {  // error made after step k (k = 0: rounding X0)
    double sum = 0;
    for (size_t i = 0; i < r; ++i) {
      double outside = 1;
      for (size_t j = k; j < steps; ++j) outside *= schedule[int64_t(j)](x[j][i]) / x[j][i];
      sum += double(n - int64_t(r)) * outside * outside;
      for (size_t l = 0; l < r; ++l) {
        double sym = 1, anti = 1;
        for (size_t j = k; j < steps; ++j) {
          const QuinticStep& st = schedule[int64_t(j)];
          const double u = x[j][i], v = x[j][l], u2 = u * u;
          sym *= std::abs(u - v) > 1e-12 * std::max(u, v)
                     ? (st(u) - st(v)) / (u - v)
                     : st.a + 3 * st.b * u2 + 5 * st.c * u2 * u2;
          anti *= (st(u) + st(v)) / (u + v);
        }
        sum += (sym * sym + anti * anti) / 2;
      }
    }
    const double propagated = norm(x[k]) * std::sqrt(sum / double(int64_t(r) * n));
    total += propagated * propagated;
  }
  return std::sqrt(total) / norm(x.back());
}

// Finite precision against the fp64 run of the same schedule on the same matrix. Predicted
// deviation: c u M, with M the model above and u the unit roundoff (fp32 2^-24, bf16 2^-8).
// bf16 rounds five outputs per step (A, A^2, B, BX, X), each by at most u relative; BX is up to
// ~3x larger than the result (aX and BX nearly cancel near convergence), so c = 8. fp32 rounds
// inside GEMMs of length up to n = 256, error ~ sqrt(n) u for random-sign roundings (Higham &
// Mary 2019): c = 8 sqrt(n). The test requires the deviation within [M u / 10, c u M]: above
// the floor the run really is in that precision, below the cap the error is explained by
// rounding alone.
TEST(NewtonSchulz, Fp32AndBf16DeviationsMatchRoundingModel) {
  const Shape shape{96, 256};
  for (const char* family : {"marchenko-pastur", "power-law", "low-rank", "decay-floor"}) {
    const Spectrum s = make_family(family)->sample(shape, 31);
    const Eigen::MatrixXd b = matrix_with_spectrum(shape, s, 32);
    const Schedule muon = builtin_schedule("muon", shape);
    const Eigen::MatrixXd x64 = newton_schulz(b, muon, Precision::fp64);
    const Eigen::MatrixXd x32 = newton_schulz(b, muon, Precision::fp32);
    const Eigen::MatrixXd x16 = newton_schulz(b, muon, Precision::bf16);
    const double u32 = std::ldexp(1.0, -24), u16 = std::ldexp(1.0, -8);
    const double d32 = relative_rms(x32, x64), d16 = relative_rms(x16, x64);
    const double model = rounding_error_model(muon, s, shape.cols);
    RecordProperty(std::string(family) + "_fp32_over_u", std::to_string(d32 / u32));
    RecordProperty(std::string(family) + "_bf16_over_u", std::to_string(d16 / u16));
    RecordProperty(std::string(family) + "_model", std::to_string(model));
    EXPECT_LT(d32, 8 * std::sqrt(256.0) * u32 * model) << family;
    EXPECT_GT(d32, u32 * model / 10) << family;
    EXPECT_LT(d16, 8 * u16 * model) << family;
    EXPECT_GT(d16, u16 * model / 10) << family;
    // Every entry of the bf16 result is a bf16 number (the last output was rounded).
    for (Eigen::Index i = 0; i < x16.size(); ++i)
      ASSERT_EQ(double(round_to_bf16(float(x16.data()[i]))), x16.data()[i]);
  }
}

TEST(NewtonSchulz, RejectsBadInputAndHandlesZero) {
  const Schedule muon = builtin_schedule("muon", {3, 4});
  EXPECT_THROW(newton_schulz(Eigen::MatrixXd(0, 4), muon, Precision::fp64), Error);
  Eigen::MatrixXd nan = Eigen::MatrixXd::Ones(3, 4);
  nan(1, 2) = std::nan("");
  EXPECT_THROW(newton_schulz(nan, muon, Precision::fp32), Error);
  EXPECT_EQ(newton_schulz(Eigen::MatrixXd::Zero(3, 4), muon, Precision::bf16).norm(), 0.0);
  EXPECT_THROW(make_cpu_polar_solver()->polar(nan), Error);
}

TEST(PolarSolver, BestSolverAgreesWithCpu) {
  const Shape shape{30, 70};
  const Eigen::MatrixXd m =
      matrix_with_spectrum(shape, make_family("power-law")->sample(shape, 2), 3);
  const PolarFactor cpu = make_cpu_polar_solver()->polar(m);
  const auto best = make_best_polar_solver();
  const PolarFactor other = best->polar(m);
  EXPECT_LT((cpu.polar - other.polar).norm(), 1e-10) << best->name();
}

}  // namespace
}  // namespace rootopt
