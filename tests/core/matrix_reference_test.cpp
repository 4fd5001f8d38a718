// Matrix level: matrices with a prescribed spectrum, the SVD polar factor, and real
// Newton-Schulz iterations against the spectral prediction (fp64) and against fp64 (fp32, bf16).
#include <gtest/gtest.h>

#include <Eigen/Dense>
#include <cmath>

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

// First-order amplification of per-step rounding errors by the remaining steps. A perturbation
// of X between steps changes the result through the Frechet derivative of the remaining matrix
// map, whose action on singular-pair components is a divided difference of p_j, bounded by
// max |p_j'| over the hull [lo_j, hi_j] of the values entering step j. So an error of relative
// size e made after step k grows by at most prod_{j>k} max |p_j'|; summed over k (plus the
// rounding of X0) that is the returned factor.
double rounding_amplification(const Schedule& schedule, const Spectrum& s) {
  double lo = s.back(), hi = s.front();
  std::vector<double> slopes;
  for (const QuinticStep& st : schedule.steps()) {
    double slope = 0;
    for (int i = 0; i <= 1000; ++i) {
      const double t = lo + (hi - lo) * i / 1000.0, t2 = t * t;
      slope = std::max(slope, std::abs(st.a + 3 * st.b * t2 + 5 * st.c * t2 * t2));
    }
    slopes.push_back(slope);
    double next_lo = 1e300, next_hi = -1e300;
    for (int i = 0; i <= 1000; ++i) {
      const double v = st(lo + (hi - lo) * i / 1000.0);
      next_lo = std::min(next_lo, v), next_hi = std::max(next_hi, v);
    }
    lo = next_lo, hi = next_hi;
  }
  double total = 0;
  for (size_t k = 0; k <= slopes.size(); ++k) {
    double product = 1;
    for (size_t j = k; j < slopes.size(); ++j) product *= slopes[j];
    total += product;
  }
  return total;
}

// Finite precision against the fp64 run of the same schedule on the same matrix: the deviation
// is at most c u A, u the unit roundoff (fp32 2^-24, bf16 2^-8), A the amplification above, and
// c the relative error one step adds: bf16 rounds 5 outputs per step (A, A^2, B, BX, X), each
// by at most u: c = 5; fp32 accumulates GEMMs of length n = 256, whose error grows like
// sqrt(n) u for rounding errors of random sign (Higham & Mary 2019): c = 5 sqrt(n). The
// deviation must also exceed u/16: the run really is in that precision.
TEST(NewtonSchulz, Fp32AndBf16DeviationsAreBoundedByUnitRoundoff) {
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
    const double amplification = rounding_amplification(muon, s);
    RecordProperty(std::string(family) + "_fp32_over_u", std::to_string(d32 / u32));
    RecordProperty(std::string(family) + "_bf16_over_u", std::to_string(d16 / u16));
    RecordProperty(std::string(family) + "_amplification", std::to_string(amplification));
    EXPECT_LT(d32, 5 * std::sqrt(256.0) * u32 * amplification) << family;
    EXPECT_GT(d32, u32 / 16) << family;
    EXPECT_LT(d16, 5 * u16 * amplification) << family;
    EXPECT_GT(d16, u16 / 16) << family;
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
