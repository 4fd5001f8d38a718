// tune_shape: recovers a known optimum, its output satisfies the safety constraints checked
// independently of the optimizer, and it is deterministic under a seed.
#include <gtest/gtest.h>

#include <Eigen/Dense>
#include <cmath>
#include <cstring>

#include "rootopt/tuner.h"
#include "seeds.h"
#include "tuner_test_support.h"
#include "validation.h"

namespace rootopt {
namespace {

TEST(TuneShape, RecoversAnalyticOneStepOptimum) {
  // One quintic step, every spectrum = {0.4, 0.7, 1.0}: the unique zero-error triple
  // interpolates p(s) = 1 at the three values (a 3x3 linear system solved here in fp64); its map
  // stays within [0, 1.08] on [0, 1], so the constraints do not bind.
  const Spectrum values{1.0, 0.7, 0.4};
  Eigen::Matrix3d a;
  for (int i = 0; i < 3; ++i) a.row(i) << values[i], std::pow(values[i], 3), std::pow(values[i], 5);
  const Eigen::Vector3d exact = a.fullPivLu().solve(Eigen::Vector3d::Ones());

  TuneOptions o = testing::fast_options();
  auto mixture = std::make_shared<SpectrumMixture>();
  mixture->add(std::make_shared<testing::FixedSpectrum>(values), 1);
  o.mixture = mixture;
  o.recipes.steps = 1;
  o.search.local_max_evals = 1000;
  o.validation.enabled = false;
  for (TuneMode mode : {TuneMode::per_step, TuneMode::shared}) {
    o.mode = mode;
    const TunedShape r = tune_shape({3, 6}, o);
    ASSERT_EQ(r.recipe.schedule.size(), 1);
    // The objective is |p - 1| in RMS, a cone at the optimum: SLSQP reaches it to ~1e-7, and
    // the coefficients (condition number of the system ~1e3) to ~1e-4.
    EXPECT_NEAR(r.recipe.schedule[0].a, exact[0], 1e-4);
    EXPECT_NEAR(r.recipe.schedule[0].b, exact[1], 1e-4);
    EXPECT_NEAR(r.recipe.schedule[0].c, exact[2], 1e-4);
    EXPECT_LT(r.metrics.at("fit_rms"), 1e-5);
    EXPECT_LT(r.metrics.at("heldout_rms"), 1e-5);
    // Every built-in is worse on this problem.
    EXPECT_GT(r.metrics.at("polar_express_heldout_rms"), 1e-3);
  }
}

// Independent check of the safety constraints on a dense grid in long double: every step's map
// is non-negative on the iterates it receives, and the composed map lies in [0, bound].
void expect_safe(const Schedule& schedule, double bound) {
  for (int64_t i = 0; i <= 200000; ++i) {
    long double x = (long double)i / 200000;
    for (const QuinticStep& p : schedule.steps()) {
      const long double gain = p.a + p.b * x * x + p.c * x * x * x * x;
      ASSERT_GE(gain, -1e-12L) << "negative step gain at s = " << double(i) / 200000;
      x *= gain;
    }
    ASSERT_LE(double(x), bound) << "s = " << double(i) / 200000;
    ASSERT_GE(double(x), 0.0);
  }
  const Envelope env = envelope(schedule);
  EXPECT_LE(env.max_value, bound);
  EXPECT_GE(env.min_value, -1e-12);
  for (double m : step_minima(schedule)) EXPECT_GE(m, -1e-12);
}

TEST(TuneShape, OutputSatisfiesConstraintsCheckedIndependently) {
  TuneOptions o = testing::fast_options();
  for (double bound : {1.3, 1.05}) {
    o.envelope_bound = bound;
    const TunedShape r = tune_shape({96, 48}, o);
    EXPECT_EQ(r.shape, (Shape{48, 96}));
    expect_safe(r.recipe.schedule, bound);
    EXPECT_LE(r.metrics.at("envelope"), bound);
    EXPECT_GT(r.metrics.at("heldout_rms"), 0.0);
  }
}

// Rounding robustness (SearchOptions::safety_margin): in bf16 every step's input carries a
// relative error up to ~2^-8. Checked independently in long double: with every step's input
// enlarged by the margin (the worst direction: the quintics grow fastest above their design
// range), gains stay non-negative and the composed map within the bound, and so does the
// unperturbed map slightly beyond s = 1. Without the margin the fitted map sits at the bound at
// s = 1 and explodes just above it.
TEST(TuneShape, OutputToleratesPerStepPerturbationUpToSafetyMargin) {
  TuneOptions o = testing::fast_options();
  const double bound = o.envelope_bound;
  const long double grow = 1.0L + o.search.safety_margin;
  const TunedShape r = tune_shape({64, 256}, o);
  for (int64_t i = 0; i <= 200000; ++i) {
    const long double s = (long double)i / 200000;
    long double perturbed = s, beyond = s * grow;  // beyond: X0 itself over-normalised
    for (const QuinticStep& p : r.recipe.schedule.steps()) {
      perturbed *= grow;
      const long double x2 = perturbed * perturbed, y2 = beyond * beyond;
      const long double gain = p.a + p.b * x2 + p.c * x2 * x2;
      ASSERT_GE(gain, -1e-12L) << "negative perturbed step gain at s = " << double(s);
      perturbed *= gain;
      beyond *= p.a + p.b * y2 + p.c * y2 * y2;
    }
    ASSERT_LE(double(perturbed), bound + 1e-9) << "perturbed map at s = " << double(s);
    ASSERT_LE(double(beyond), bound + 1e-9) << "map at s(1 + margin), s = " << double(s);
  }
}

TEST(TuneShape, SharedModeIsOneTriple) {
  TuneOptions o = testing::fast_options();
  o.mode = TuneMode::shared;
  const TunedShape r = tune_shape({32, 128}, o);
  EXPECT_TRUE(r.recipe.schedule.is_shared());
  expect_safe(r.recipe.schedule, o.envelope_bound);
}

bool same_bits(double x, double y) { return std::memcmp(&x, &y, sizeof x) == 0; }

TEST(TuneShape, DeterministicUnderSeed) {
  TuneOptions o = testing::fast_options();
  o.seed = 42;
  const TunedShape a = tune_shape({40, 80}, o);
  const TunedShape b = tune_shape({80, 40}, o);
  ASSERT_EQ(a.recipe.schedule.size(), b.recipe.schedule.size());
  for (int64_t k = 0; k < a.recipe.schedule.size(); ++k) {
    EXPECT_TRUE(same_bits(a.recipe.schedule[k].a, b.recipe.schedule[k].a));
    EXPECT_TRUE(same_bits(a.recipe.schedule[k].b, b.recipe.schedule[k].b));
    EXPECT_TRUE(same_bits(a.recipe.schedule[k].c, b.recipe.schedule[k].c));
  }
  EXPECT_TRUE(same_bits(a.metrics.at("heldout_rms"), b.metrics.at("heldout_rms")));
  EXPECT_TRUE(same_bits(a.metrics.at("bf16_matrix_rms"), b.metrics.at("bf16_matrix_rms")));
}

TEST(TuneShape, HeldOutSamplesAreNotFittingSamples) {
  const TuneOptions o = testing::fast_options();
  const Shape shape{40, 80};
  const auto fit = o.mixture->sample_many(
      shape, tuner::derive_seed(o.seed, shape, tuner::SeedStream::fit), o.samples);
  const tuner::HeldoutSpectra heldout = tuner::heldout_spectra(shape, o);
  ASSERT_EQ(int64_t(heldout.mixture.size()), o.heldout_samples);
  for (const Spectrum& h : heldout.mixture)
    for (const Spectrum& f : fit) EXPECT_NE(h, f);
}

TEST(TuneShape, MatrixValidationUsesProxyWithSameAspect) {
  EXPECT_EQ(tuner::proxy_shape({4096, 14336}, 256), (Shape{256, 896}));
  EXPECT_EQ(tuner::proxy_shape({14336, 4096}, 256), (Shape{256, 896}));
  EXPECT_EQ(tuner::proxy_shape({100, 300}, 256), (Shape{100, 300}));
  TuneOptions o = testing::fast_options();
  const TunedShape r = tune_shape({64, 256}, o);
  EXPECT_EQ(r.metrics.at("validation_rows"), 16);
  EXPECT_EQ(r.metrics.at("validation_cols"), 64);
  // fp32 iterations follow the spectral prediction closely; bf16 rounding adds error of order
  // 2^-8 relative per GEMM. Both are measured against the SVD polar factor.
  for (const char* column : {"fp32_matrix_rms", "bf16_matrix_rms", "polar_express_fp32_matrix_rms",
                             "muon_bf16_matrix_rms"}) {
    EXPECT_TRUE(std::isfinite(r.metrics.at(column))) << column;
    EXPECT_GT(r.metrics.at(column), 0.0) << column;
  }
  EXPECT_TRUE(std::isnan(r.metrics.at("root_paper_heldout_rms")));  // not published for 64x256
}

TEST(TuneOptions, RejectsInvalidValues) {
  const auto expect_invalid = [](auto change, const char* needle) {
    TuneOptions o = testing::fast_options();
    change(o);
    try {
      o.validate();
      ADD_FAILURE() << "accepted invalid options (" << needle << ")";
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find(needle), std::string::npos) << e.what();
    }
  };
  expect_invalid([](TuneOptions& o) { o.recipes.steps = -1; }, "step count");
  expect_invalid([](TuneOptions& o) { o.recipes.steps = 1000; }, "step count");
  expect_invalid([](TuneOptions& o) { o.samples = 0; }, "--samples");
  expect_invalid([](TuneOptions& o) { o.envelope_bound = 0.99; }, "--envelope");
  expect_invalid([](TuneOptions& o) { o.envelope_bound = NAN; }, "--envelope");
  expect_invalid([](TuneOptions& o) { o.mixture = nullptr; }, "families");
  expect_invalid([](TuneOptions& o) { o.search.safety_margin = -0.01; }, "--safety-margin");
  expect_invalid([](TuneOptions& o) { o.search.safety_margin = NAN; }, "--safety-margin");
  EXPECT_THROW(parse_tune_mode("both"), Error);
  EXPECT_EQ(parse_tune_mode("shared"), TuneMode::shared);
}

}  // namespace
}  // namespace rootopt
