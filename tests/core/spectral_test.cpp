// Spectral evaluation against an independent scalar recursion in long double, and the envelope
// against dense brute-force grids.
#include <gtest/gtest.h>

#include <Eigen/Dense>
#include <cmath>
#include <random>

#include "rootopt/error.h"
#include "rootopt/spectral.h"

namespace rootopt {
namespace {

// Reference: the steps written out as a s + b s^3 + c s^5 with pow(), in long double.
long double reference_map(const Schedule& schedule, long double s) {
  for (const QuinticStep& st : schedule.steps())
    s = st.a * s + st.b * std::pow(s, 3) + st.c * std::pow(s, 5);
  return s;
}

// Forward error bound of evaluating the map in fp64: each step's evaluation adds at most
// ~6u (|a| s + |b| s^3 + |c| s^5) (a handful of roundings on terms of that size), and every
// later step multiplies the error so far by |p_k'(s)|. u = 2^-53.
double fp64_error_bound(const Schedule& schedule, double s) {
  const double u = std::ldexp(1.0, -53);
  double bound = 0;
  for (const QuinticStep& st : schedule.steps()) {
    const double s2 = s * s;
    const double slope = std::abs(st.a + 3 * st.b * s2 + 5 * st.c * s2 * s2);
    const double size = std::abs(st.a * s) + std::abs(st.b * s * s2) + std::abs(st.c * s * s2 * s2);
    bound = slope * bound + 6 * u * size;
    s = st(s);
  }
  return bound;
}

// Brute-force max / min of the composed map on a dense grid of [lo, hi] (plain fp64 scalar loop).
std::pair<double, double> dense_extremes(const Schedule& schedule, int64_t points, double lo = 0,
                                         double hi = 1) {
  double mx = -1e300, mn = 1e300;
  for (int64_t i = 0; i < points; ++i) {
    double s = lo + (hi - lo) * double(i) / double(points - 1);
    for (const QuinticStep& st : schedule.steps())
      s = st.a * s + st.b * s * s * s + st.c * s * s * s * s * s;
    mx = std::max(mx, s), mn = std::min(mn, s);
  }
  return {mx, mn};
}

std::vector<Schedule> test_schedules() {
  return {builtin_schedule("muon", {64, 64}), builtin_schedule("polar-express", {64, 64}),
          builtin_schedule("you", {64, 64}), builtin_schedule("root-paper", {2048, 2048})};
}

TEST(Spectral, ApplyMatchesScalarRecursion) {
  std::mt19937_64 rng(11);
  std::uniform_real_distribution<double> u(0.0, 1.0);
  Spectrum s(4097);
  for (double& v : s) v = u(rng);
  for (const Schedule& schedule : test_schedules()) {
    const std::vector<double> p = apply_schedule(schedule, s);
    ASSERT_EQ(p.size(), s.size());
    double largest = 0;
    for (size_t i = 0; i < s.size(); ++i) {
      EXPECT_NEAR(p[i], double(reference_map(schedule, s[i])),
                  2 * fp64_error_bound(schedule, s[i]) + 1e-16)
          << schedule.name() << " s = " << s[i];
      largest = std::max(largest, std::abs(p[i]));
    }
    EXPECT_GT(largest, 0.5);  // not all zero
  }
}

TEST(Spectral, ErrorMetricsMatchDefinitions) {
  const Schedule muon = builtin_schedule("muon", {64, 64});
  const Spectrum s{0.9, 0.3, 0.2, 0.1, 0.01};
  long double sum = 0, max_dev = 0, mn = 1e30L, mx = -1e30L;
  for (double v : s) {
    const long double p = reference_map(muon, v);
    sum += (p - 1) * (p - 1);
    max_dev = std::max(max_dev, std::abs(p - 1));
    mn = std::min(mn, p), mx = std::max(mx, p);
  }
  const SpectralError e = spectral_error(muon, s);
  EXPECT_NEAR(e.rms, double(std::sqrt(sum / s.size())), 1e-14);
  EXPECT_NEAR(e.max_dev, double(max_dev), 1e-14);
  EXPECT_NEAR(e.min_value, double(mn), 1e-14);
  EXPECT_NEAR(e.max_value, double(mx), 1e-14);
  EXPECT_GT(e.rms, 0.0);
}

TEST(Envelope, RootPaper2048ReachesAbout3point31) {
  // coefficients.md: the 5-step ROOT (2048, 2048) map reaches about 3.31 near s = 0.55-0.57.
  const Envelope env = envelope(builtin_schedule("root-paper", {2048, 2048}));
  EXPECT_NEAR(env.max_value, 3.31, 0.01);
  EXPECT_GE(env.argmax, 0.55);
  EXPECT_LE(env.argmax, 0.57);
  EXPECT_NEAR(env.max_value,
              double(reference_map(builtin_schedule("root-paper", {2048, 2048}), env.argmax)),
              1e-12);
}

TEST(Envelope, MatchesDenseGridForPublishedSchedules) {
  for (const Schedule& schedule : test_schedules()) {
    const Envelope env = envelope(schedule);
    const auto [mx, mn] = dense_extremes(schedule, 2000001);
    // The refined value is a true function value, so it can only exceed the dense grid's max
    // by what the grid (spacing 5e-7) misses: quadratic near a smooth maximum, < 1e-6 here.
    EXPECT_GE(env.max_value, mx - 1e-12) << schedule.name();
    EXPECT_LE(env.max_value, mx + 1e-6) << schedule.name();
    EXPECT_LE(env.min_value, mn + 1e-12) << schedule.name();
    EXPECT_GE(env.min_value, mn - 1e-6) << schedule.name();
  }
}

TEST(Envelope, RefinementBeatsGridOnNarrowSpike) {
  // On a coarse grid the ROOT 2048 peak near s = 0.56 is narrower than the grid spacing: the
  // grid alone misses most of it, refinement must not.
  const Schedule root = builtin_schedule("root-paper", {2048, 2048});
  EnvelopeOptions coarse;
  coarse.grid_points = 41;
  Spectrum grid(41);
  for (size_t i = 0; i < grid.size(); ++i) grid[i] = double(i) / 40.0;
  const std::vector<double> grid_values = apply_schedule(root, grid);
  const double grid_only = *std::max_element(grid_values.begin(), grid_values.end());
  const double truth = dense_extremes(root, 2000001).first;
  const Envelope refined = envelope(root, coarse);
  EXPECT_LT(grid_only, truth - 0.05);  // the spike really is missed by the coarse grid
  EXPECT_NEAR(refined.max_value, truth, 1e-6);
}

TEST(Envelope, StepMinimaMatchBruteForce) {
  // Step 1 of (3, -6, 2) dips to p(1) = -1; later steps see that negative interval.
  const Schedule dipping("dip", {{3.0, -6.0, 2.0}, {3.4445, -4.7750, 2.0315}, {1.5, -0.5, 0.0}});
  for (const Schedule& schedule : {dipping, builtin_schedule("polar-express", {8, 8})}) {
    const std::vector<double> minima = step_minima(schedule);
    ASSERT_EQ(int64_t(minima.size()), schedule.size());
    double lo = 0, hi = 1;
    for (int64_t k = 0; k < schedule.size(); ++k) {
      const Schedule step("k", {schedule[k]});
      const auto [mx, mn] = dense_extremes(step, 400001, lo, hi);
      // Grid spacing <= 1e-5 times the interval width; smooth extrema: error O(h^2) but an
      // endpoint minimum is exact. 1e-6 covers both.
      EXPECT_NEAR(minima[size_t(k)], mn, 1e-6) << schedule.name() << " step " << k;
      lo = mn, hi = mx;
    }
  }
  EXPECT_LT(step_minima(dipping)[0], -0.99);
}

// A steep first step makes the second step's input range astronomically wide ([0, 1e20]), where
// an absolute refinement tolerance is below the spacing of doubles; the search must still end.
// Step 2's map x (1 - 2e-40 x^2) is smallest at the range's end: 1e20 - 2e20 = -1e20.
TEST(StepMinima, TerminatesOnAstronomicallyWideInputRange) {
  const Schedule steep("steep", {{1e20, 0, 0}, {1, -2e-40, 0}});
  const std::vector<double> minima = step_minima(steep);
  ASSERT_EQ(minima.size(), 2u);
  EXPECT_EQ(minima[0], 0.0);
  EXPECT_NEAR(minima[1] / -1e20, 1.0, 1e-9);
}

// Frobenius-normalised singular values of a random Gaussian matrix (Eigen's Jacobi SVD: a
// different algorithm and library than the LAPACK dgesdd the rest of rootopt uses), and the
// Schatten-4/8 norms the runtime's way, from Gram products of the matrix itself:
// ||s||_4 = ||A||_F^(1/2), ||s||_8 = ||A^2||_F^(1/4) with A = X X^T, in long double.
struct RandomMatrixSpectrum {
  Spectrum s;
  long double schatten4 = 0, schatten8 = 0;
};
RandomMatrixSpectrum random_matrix_spectrum(int64_t rows, int64_t cols, uint64_t seed,
                                            double rank_one_boost) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<double> normal;
  Eigen::MatrixXd x = Eigen::MatrixXd::NullaryExpr(rows, cols, [&]() { return normal(rng); });
  // A dominant direction makes the spectrum near rank-1 (sigma_max / ||s||_8 -> 1).
  x += rank_one_boost * Eigen::VectorXd::Ones(rows) * Eigen::RowVectorXd::Ones(cols);
  x /= x.norm();
  const Eigen::JacobiSVD<Eigen::MatrixXd> svd(x);
  RandomMatrixSpectrum out;
  out.s.assign(svd.singularValues().data(),
               svd.singularValues().data() + svd.singularValues().size());
  using LongMatrix = Eigen::Matrix<long double, Eigen::Dynamic, Eigen::Dynamic>;
  const LongMatrix xl = x.cast<long double>();
  const LongMatrix a = xl * xl.transpose();
  const LongMatrix a2 = a * a;
  out.schatten4 = std::sqrt(a.norm());
  out.schatten8 = std::sqrt(std::sqrt(a2.norm()));
  return out;
}

// Derivative of the composed map at s (chain rule), for error propagation in the tolerances.
double composed_slope(const Schedule& schedule, double s) {
  double slope = 1;
  for (const QuinticStep& st : schedule.steps()) {
    const double s2 = s * s;
    slope *= st.a + 3 * st.b * s2 + 5 * st.c * s2 * s2;
    s = st(s);
  }
  return slope;
}

TEST(Normalized, DividesByTheSchattenNormOfTheMatrix) {
  for (const auto& [rows, cols, boost] :
       {std::tuple{40, 100, 0.0}, std::tuple{64, 64, 0.0}, std::tuple{30, 300, 0.5}}) {
    const RandomMatrixSpectrum m = random_matrix_spectrum(rows, cols, 7 + rows, boost);
    // fp64 rounding of sums of <= 64 terms and a few roots: ~1e-15 relative.
    for (const auto& [normalization, norm] : {std::pair{Normalization::schatten4, m.schatten4},
                                              std::pair{Normalization::schatten8, m.schatten8}}) {
      const Spectrum n = normalized(m.s, normalization);
      ASSERT_EQ(n.size(), m.s.size());
      for (size_t i = 0; i < n.size(); ++i)
        EXPECT_NEAR(n[i], double(m.s[i] / norm), 1e-13) << to_string(normalization) << " " << i;
      // sigma_max <= ||s||_8 <= ||s||_4 <= ||s||_2 = 1.
      EXPECT_LE(n.front(), 1.0 + 1e-15);
    }
    EXPECT_GE(normalized(m.s, Normalization::schatten8).front(),
              normalized(m.s, Normalization::schatten4).front());
    EXPECT_GT(normalized(m.s, Normalization::schatten4).front(), m.s.front());
    EXPECT_EQ(normalized(m.s, Normalization::frobenius), m.s);  // already divided by ||s||_2
  }
  // Rank 1: every Schatten norm is the one singular value.
  EXPECT_EQ(normalized({0.25, 0, 0}, Normalization::schatten8), (Spectrum{1.0, 0, 0}));
  EXPECT_EQ(normalized({0, 0}, Normalization::schatten4), (Spectrum{0, 0}));  // alpha = 1
  EXPECT_THROW(normalized({0.5, 0.5}, Normalization::aol), Error);
  EXPECT_THROW(normalized({}, Normalization::schatten8), Error);
  EXPECT_THROW(normalized({0.5, -0.5}, Normalization::schatten8), Error);
  EXPECT_THROW(normalized({0.5, NAN}, Normalization::schatten4), Error);
}

// The recipe's exact error is the composed map on s / ||s||_p: checked against the long-double
// recursion at s_i / alpha with alpha from the matrix's Gram products (not from s). Tolerance:
// alpha agrees to ~1e-15 relative, which moves p(x) by |p'(x)| x 1e-15, plus the map's own fp64
// evaluation error; both are computed per value and doubled.
TEST(Normalized, RecipeErrorIsTheMapOnTheNormalizedSpectrum) {
  const RandomMatrixSpectrum m = random_matrix_spectrum(48, 160, 3, 0.0);
  for (const char* name : {"polar-express", "muon", "you"}) {
    for (const auto& [normalization, alpha] : {std::pair{Normalization::frobenius, 1.0L},
                                               std::pair{Normalization::schatten4, m.schatten4},
                                               std::pair{Normalization::schatten8, m.schatten8}}) {
      Recipe recipe = builtin_recipe(name, {48, 160});
      recipe.normalization = normalization;
      long double sum = 0, max_dev = 0, mn = 1e30L, mx = -1e30L, tolerance = 0;
      for (double v : m.s) {
        const double x = double(v / alpha);
        const long double p = reference_map(recipe.schedule, x);
        sum += (p - 1) * (p - 1);
        max_dev = std::max(max_dev, std::abs(p - 1));
        mn = std::min(mn, p), mx = std::max(mx, p);
        tolerance = std::max<long double>(
            tolerance, 2 * (std::abs(composed_slope(recipe.schedule, x)) * x * 1e-15 +
                            fp64_error_bound(recipe.schedule, x)));
      }
      const SpectralError e = spectral_error(recipe, m.s);
      const std::string what = std::string(name) + " " + to_string(normalization);
      EXPECT_NEAR(e.rms, double(std::sqrt(sum / m.s.size())), double(tolerance)) << what;
      EXPECT_NEAR(e.max_dev, double(max_dev), double(tolerance)) << what;
      EXPECT_NEAR(e.min_value, double(mn), double(tolerance)) << what;
      EXPECT_NEAR(e.max_value, double(mx), double(tolerance)) << what;
      // Form, restarts and tail are execution details: exact arithmetic is unchanged.
      Recipe gram = recipe;
      gram.form = IterationForm::gram;
      gram.restarts = {2};
      gram.tail_steps = 1;
      const SpectralError g = spectral_error(gram, m.s);
      EXPECT_EQ(g.rms, e.rms) << what;
      EXPECT_EQ(g.max_value, e.max_value) << what;
    }
    // A Frobenius recipe is the schedule as before recipes existed, bit for bit.
    const Recipe frobenius = builtin_recipe(name, {48, 160});
    EXPECT_EQ(spectral_error(frobenius, m.s).rms, spectral_error(frobenius.schedule, m.s).rms);
  }
  // Schatten-8 puts the top singular value near 1, where Polar Express converges: better here.
  Recipe pe8 = builtin_recipe("polar-express", {48, 160});
  pe8.normalization = Normalization::schatten8;
  EXPECT_LT(spectral_error(pe8, m.s).rms,
            spectral_error(builtin_recipe("polar-express", {48, 160}), m.s).rms);
  Recipe aol = pe8;
  aol.normalization = Normalization::aol;
  EXPECT_THROW(spectral_error(aol, m.s), Error);
}

}  // namespace
}  // namespace rootopt
