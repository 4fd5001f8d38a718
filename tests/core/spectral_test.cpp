// Spectral evaluation against an independent scalar recursion in long double, and the envelope
// against dense brute-force grids.
#include <gtest/gtest.h>

#include <cmath>
#include <random>

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

}  // namespace
}  // namespace rootopt
