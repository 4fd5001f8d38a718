// The search's objective and constraints against independent references: a long-double scalar
// recursion for values, central finite differences for the analytic gradients; the scaling
// gauge against a dense long-double grid; errors raised inside the search's callbacks.
#include <gtest/gtest.h>

#include <atomic>
#include <cmath>
#include <cstring>
#include <random>

#include "constraints.h"
#include "objective.h"
#include "parameterization.h"
#include "search.h"

namespace rootopt::tuner {
namespace {

long double reference_map(const std::vector<QuinticStep>& steps, long double s) {
  for (const QuinticStep& p : steps) s = p.a * s + p.b * s * s * s + p.c * s * s * s * s * s;
  return s;
}

std::vector<QuinticStep> random_steps(std::mt19937_64& rng, int64_t k) {
  std::uniform_real_distribution<double> jitter(-0.2, 0.2);
  std::vector<QuinticStep> steps;
  for (int64_t i = 0; i < k; ++i)
    steps.push_back({3.0 + jitter(rng), -4.5 + jitter(rng), 1.9 + jitter(rng)});
  return steps;
}

std::vector<Spectrum> random_spectra(std::mt19937_64& rng, int64_t count, int64_t size) {
  std::uniform_real_distribution<double> u(0.0, 1.0);
  std::vector<Spectrum> out(static_cast<size_t>(count));
  for (Spectrum& s : out)
    for (int64_t i = 0; i < size; ++i) s.push_back(std::pow(u(rng), 3.0));
  return out;
}

TEST(SpectralObjective, ValueMatchesLongDoubleRecursion) {
  std::mt19937_64 rng(1);
  const auto spectra = random_spectra(rng, 7, 40);
  const auto steps = random_steps(rng, 5);
  const SpectralObjective objective(spectra, 64);  // 40 <= 64 values: no compression
  long double expected = 0;
  for (const Spectrum& s : spectra) {
    long double sum = 0;
    for (double v : s) sum += std::pow(reference_map(steps, v) - 1.0L, 2);
    expected += std::sqrt(sum / s.size());
  }
  expected /= spectra.size();
  const double value = objective.value(steps, nullptr);
  EXPECT_GT(value, 0.01);  // not trivially zero
  // fp64 recursion of 5 quintic steps: a few ulps per step, summed over 40 values.
  EXPECT_NEAR(value, double(expected), 1e-12);
}

TEST(SpectralObjective, GradientMatchesFiniteDifferences) {
  std::mt19937_64 rng(2);
  const auto spectra = random_spectra(rng, 5, 300);
  const SpectralObjective objective(spectra, 50);  // compressed to 50 points each
  for (TuneMode mode : {TuneMode::per_step, TuneMode::shared}) {
    const Parameterization par{mode, 4};
    std::vector<double> x = par.params_of(Schedule("s", random_steps(rng, 4)));
    std::vector<double> per_step(12), grad(size_t(par.size()));
    objective.value(par.steps_of(x.data()), per_step.data());
    par.fold_gradient(per_step.data(), grad.data());
    for (size_t i = 0; i < x.size(); ++i) {
      // Central differences: truncation O(h^2) ~ 1e-10, rounding ~ 1e-16 / h ~ 1e-10.
      const double h = 1e-6;
      std::vector<double> up = x, down = x;
      up[i] += h, down[i] -= h;
      const double fd = (objective.value(par.steps_of(up.data()), nullptr) -
                         objective.value(par.steps_of(down.data()), nullptr)) /
                        (2 * h);
      EXPECT_NEAR(grad[i], fd, 1e-6 * std::max(1.0, std::fabs(fd))) << "parameter " << i;
    }
  }
}

// Groups: each group's value is the mean RMS error of its spectra (long-double recursion), the
// objective their weighted mean (weights normalised); gradients of both by central differences.
TEST(SpectralObjective, GroupValuesAndGradients) {
  std::mt19937_64 rng(4);
  const auto spectra = random_spectra(rng, 9, 30);
  const std::vector<int64_t> groups{0, 2, 1, 0, 2, 2, 1, 0, 0};
  const std::vector<double> weights{2.0, 1.0, 1.0};  // normalised to 0.5, 0.25, 0.25
  const SpectralObjective objective(spectra, groups, weights, 64);
  const auto steps = random_steps(rng, 3);
  SpectralObjective::Evaluation e;
  objective.evaluate(steps, true, e);
  ASSERT_EQ(e.group_values.size(), 3u);
  std::vector<long double> expected(3, 0.0L), count(3, 0.0L);
  for (size_t j = 0; j < spectra.size(); ++j) {
    long double sum = 0;
    for (double v : spectra[j]) sum += std::pow(reference_map(steps, v) - 1.0L, 2);
    expected[size_t(groups[j])] += std::sqrt(sum / spectra[j].size());
    count[size_t(groups[j])] += 1;
  }
  long double total = 0;
  for (size_t g = 0; g < 3; ++g) {
    expected[g] /= count[g];
    // fp64 recursion of 3 quintic steps over 30 values: a few ulps each.
    EXPECT_NEAR(e.group_values[g], double(expected[g]), 1e-12) << "group " << g;
    total += expected[g] * weights[g] / 4.0;
  }
  EXPECT_NEAR(e.value, double(total), 1e-12);
  for (int64_t t = 0; t < 9; ++t) {
    const double h = 1e-6;  // central differences: truncation and rounding both ~1e-10
    auto up = steps, down = steps;
    (&up[size_t(t / 3)].a)[t % 3] += h;
    (&down[size_t(t / 3)].a)[t % 3] -= h;
    SpectralObjective::Evaluation eu, ed;
    objective.evaluate(up, false, eu);
    objective.evaluate(down, false, ed);
    const double fd = (eu.value - ed.value) / (2 * h);
    EXPECT_NEAR(e.gradient[size_t(t)], fd, 1e-6 * std::max(1.0, std::fabs(fd))) << t;
    for (size_t g = 0; g < 3; ++g) {
      const double fdg = (eu.group_values[g] - ed.group_values[g]) / (2 * h);
      EXPECT_NEAR(e.group_gradients[g * 9 + size_t(t)], fdg, 1e-6 * std::max(1.0, std::fabs(fdg)))
          << "group " << g << " coefficient " << t;
    }
  }
}

// Composed map of designed steps at s, and each intermediate iterate's peak over a dense grid,
// in long double (independent of rootopt::envelope()).
long double designed_map(const std::vector<QuinticStep>& steps, long double s) {
  return reference_map(steps, s);
}
std::vector<long double> intermediate_peaks(const std::vector<QuinticStep>& steps) {
  std::vector<long double> peaks(steps.size(), 0.0L);
  for (int64_t i = 0; i <= 200000; ++i) {
    long double x = (long double)i / 200000;
    for (size_t k = 0; k < steps.size(); ++k) {
      const QuinticStep& p = steps[k];
      x = p.a * x + p.b * x * x * x + p.c * x * x * x * x * x;
      peaks[k] = std::max(peaks[k], x);
    }
  }
  return peaks;
}

// The gauge p_k -> lambda p_k, p_{k+1}(y) -> p_{k+1}(y / lambda) changes coefficients, not the
// composed map; canonical() removes it: every intermediate map peaks at 1, and gauge-equivalent
// inputs give bit-identical parameters.
TEST(Parameterization, CanonicalGaugeIsUniqueAndKeepsTheMap) {
  const Parameterization par{TuneMode::per_step, 5, 1.01};
  const std::vector<double> x = par.params_of(builtin_schedule("you", {64, 256}, 5));
  std::mt19937_64 rng(5);
  std::uniform_real_distribution<double> scale(0.5, 2.0);
  std::vector<QuinticStep> moved = par.steps_of(x.data());
  for (size_t k = 0; k + 1 < moved.size(); ++k) {
    const double lambda = scale(rng);
    moved[k] = {moved[k].a * lambda, moved[k].b * lambda, moved[k].c * lambda};
    moved[k + 1] = with_input_scale(moved[k + 1], lambda);
  }
  std::vector<double> y;
  for (const QuinticStep& t : moved) y.insert(y.end(), {t.a, t.b, t.c});
  ASSERT_NE(x, y);
  const std::vector<double> cx = par.canonical(x), cy = par.canonical(y);
  ASSERT_EQ(cx.size(), cy.size());
  EXPECT_EQ(std::memcmp(cx.data(), cy.data(), cx.size() * sizeof(double)), 0)
      << "gauge-equivalent parameters canonicalise differently";
  const auto steps = par.steps_of(cx.data()), original = par.steps_of(x.data());
  const auto peaks = intermediate_peaks(steps);
  // The peak is located by rootopt::envelope()'s grid plus refinement; this grid's spacing
  // 5e-6 misses the true maximum by at most (slope 0 there) ~1e-9.
  for (size_t k = 0; k + 1 < steps.size(); ++k) EXPECT_NEAR(double(peaks[k]), 1.0, 1e-7) << k;
  // Same composed map, up to the rounding to kCanonicalBits bits (2^-32 relative per
  // coefficient, amplified by the map's sensitivity).
  for (int64_t i = 0; i <= 1000; ++i) {
    const long double s = (long double)i / 1000;
    EXPECT_NEAR(double(designed_map(steps, s)), double(designed_map(original, s)), 1e-6) << s;
  }
}

TEST(Parameterization, DeployedStepsCarryTheSafetyMargin) {
  const Parameterization par{TuneMode::per_step, 3, 1.01};
  const std::vector<double> x{4.0, -8.0, 5.0, 3.0, -4.0, 1.5, 2.0, -1.5, 0.5};
  const auto designed = par.steps_of(x.data());
  const auto deployed = par.deployed_steps_of(x.data());
  for (size_t k = 0; k < 3; ++k)
    for (double s : {0.1, 0.5, 0.99})  // p_k(s) = q_k(s / 1.01)
      EXPECT_NEAR(deployed[k](s), designed[k](s / 1.01), 1e-15) << k << " " << s;
}

// A callback that throws must surface as that error, not as NLopt's generic failure that the
// search used to swallow ("keep the best point seen"). Here the constraints are built for 4
// steps and the parameterization has 5: the constraint evaluation's internal check throws.
TEST(Search, ErrorInsideACallbackSurfaces) {
  std::mt19937_64 rng(6);
  const SpectralObjective objective(random_spectra(rng, 4, 20), 16);
  const SafetyConstraints constraints(16, 4);
  const SearchProblem problem{
      {TuneMode::per_step, 5, 1.01}, &objective, &constraints, 1.3, {}, nullptr};
  SearchOptions options;
  const auto starts = start_points(problem.parameterization, {16, 64}, options, 1);
  try {
    search_schedule(problem, options, starts, 1);
    ADD_FAILURE() << "the search returned a result";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("internal error"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("constraints"), std::string::npos) << e.what();
  }
}

TEST(Search, CancelIsACancellationNotAFailure) {
  std::mt19937_64 rng(7);
  const SpectralObjective objective(random_spectra(rng, 4, 20), 16);
  const SafetyConstraints constraints(16, 5);
  std::atomic<bool> cancel{true};
  const SearchProblem problem{
      {TuneMode::per_step, 5, 1.01}, &objective, &constraints, 1.3, {}, &cancel};
  SearchOptions options;
  const auto starts = start_points(problem.parameterization, {16, 64}, options, 1);
  EXPECT_THROW(search_schedule(problem, options, starts, 1), Cancelled);
}

TEST(SpectralObjective, CompressionKeepsOrderStatistics) {
  Spectrum s;
  for (int i = 0; i < 1000; ++i) s.push_back(1.0 - i / 1000.0);
  const Spectrum c = compress_spectrum(s, 10);
  ASSERT_EQ(c.size(), 10u);
  // Bin q's centre sits at index (q + 0.5) * 100 - 0.5 of a linear spectrum.
  for (int q = 0; q < 10; ++q)
    EXPECT_NEAR(c[size_t(q)], 1.0 - ((q + 0.5) * 100 - 0.5) / 1000, 1e-12);
}

TEST(SafetyConstraints, ValuesAndGradients) {
  std::mt19937_64 rng(3);
  const int64_t K = 3;
  const SafetyConstraints constraints(16, K);
  const auto steps = random_steps(rng, K);
  const ConstraintBounds bounds{1.3, 0.01};
  std::vector<double> c(size_t(constraints.count())), grad(size_t(constraints.count() * 3 * K));
  constraints.evaluate(steps, bounds, c.data(), grad.data());
  const int64_t G = int64_t(constraints.points().size());
  for (int64_t g = 0; g < G; ++g) {
    long double x = constraints.points()[size_t(g)];
    for (int64_t k = 0; k < K; ++k) {
      const QuinticStep& p = steps[size_t(k)];
      const long double gain = p.a + p.b * x * x + p.c * x * x * x * x;
      EXPECT_NEAR(c[size_t(k * G + g)], double(bounds.gain_floor - gain), 1e-12);
      x *= gain;
    }
    EXPECT_NEAR(c[size_t(K * G + g)], double(x - bounds.upper), 1e-12);
  }
  for (int64_t t = 0; t < 3 * K; ++t) {
    const double h = 1e-6;
    auto up = steps, down = steps;
    double* u = &up[size_t(t / 3)].a + t % 3;
    double* d = &down[size_t(t / 3)].a + t % 3;
    *u += h, *d -= h;
    std::vector<double> cu(c.size()), cd(c.size());
    constraints.evaluate(up, bounds, cu.data(), nullptr);
    constraints.evaluate(down, bounds, cd.data(), nullptr);
    for (size_t i = 0; i < c.size(); ++i) {
      const double fd = (cu[i] - cd[i]) / (2 * h);
      EXPECT_NEAR(grad[i * size_t(3 * K) + size_t(t)], fd, 1e-6 * std::max(1.0, std::fabs(fd)))
          << "constraint " << i << " coefficient " << t;
    }
  }
}

TEST(SafetyConstraints, VerifyRejectsRootPaper2048Square) {
  // coefficients.md: the ROOT (2048, 2048) triple's 5-step map reaches about 3.31.
  const Schedule root = Schedule::shared("root", {3.4916, -4.8224, 2.1095}, 5);
  const SafetyReport report = verify_safety(root, 1.3);
  EXPECT_FALSE(report.safe);
  EXPECT_NEAR(report.envelope.max_value, 3.31, 0.01);
  EXPECT_FALSE(violating_points(root, report, 1.3).empty());
}

}  // namespace
}  // namespace rootopt::tuner
