// The search's objective and constraints against independent references: a long-double scalar
// recursion for values, central finite differences for the analytic gradients.
#include <gtest/gtest.h>

#include <cmath>
#include <random>

#include "constraints.h"
#include "objective.h"
#include "parameterization.h"

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
