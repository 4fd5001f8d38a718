// The audit's spectral level against an independent recomputation (reference_recipes.h): the
// coefficients typed in from ../shared/reference/coefficients.md, each normalization computed
// from the spectrum directly, and the composed map a plain scalar fp64 recursion over the same
// sampled spectra.
#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <map>

#include "audit_test_support.h"
#include "reference_recipes.h"
#include "rootopt/audit.h"
#include "rootopt/coefficient_table.h"
#include "rootopt/spectrum_family.h"

namespace rootopt {
namespace {

// Over a fine grid of [0, 1]: the composed map's maximum, and the smallest value any step
// produces on the way (a step's map on the image of the grid under the steps before it).
struct GridExtremes {
  double max = -1e300, min_any_step = 1e300;
};
GridExtremes grid_extremes(const std::vector<test::Triple>& steps) {
  GridExtremes g;
  for (int i = 0; i <= 200000; ++i) {
    double x = i / 200000.0;
    for (const test::Triple& t : steps) {
      x = test::reference_map({t}, x);
      g.min_any_step = std::min(g.min_any_step, x);
    }
    g.max = std::max(g.max, x);
  }
  return g;
}

// root-shapes.json has the ROOT paper's published (2048, 2048) and (2048, 8192) shapes and an
// unpublished (512, 2048) one, so every branch of root-paper is exercised; the default schedules
// include the anchors, so Frobenius and Schatten-8 spectral levels and turbo-muon's "not
// applicable" are checked on every shape.
TEST(AuditSpectral, SchedulesMatchIndependentRecursionOnTheSameSpectra) {
  const AuditOptions options = test::small_options("root-shapes.json");
  const AuditReport report = run_audit(options);
  const SpectrumMixture mixture = SpectrumMixture::default_mixture();
  int64_t checked = 0;
  for (const AuditRow& row : report.rows) {
    if (row.weight.adamw) {
      EXPECT_FALSE(row.audited) << row.weight.pattern;
      continue;
    }
    const Shape key = row.weight.key();
    const std::vector<Spectrum> spectra =
        mixture.sample_many(key, audit_shape_seed(options.seed, key), options.samples);
    ASSERT_EQ(row.results.size(), options.schedules.size());
    for (const ScheduleAudit& r : row.results) {
      const test::ReferenceRecipe recipe = test::reference_recipe(r.schedule, key);
      if (recipe.schatten == 0) {  // turbo-muon: AOL has no spectral model
        EXPECT_FALSE(r.spectral.applicable);
        EXPECT_EQ(r.spectral.spectra, 0);
        EXPECT_TRUE(std::isnan(r.spectral.rms) && std::isnan(r.spectral.max_dev) &&
                    std::isnan(r.spectral.min_value) && std::isnan(r.spectral.max_value));
      } else {
        const test::ReferenceErrors e = test::reference_spectral(recipe, spectra);
        // Same fp64 arithmetic in a different order (the Schatten norm summed here from s^p,
        // there from s^p too but in another order): values differ by a few ulp, amplified by at
        // most the composed map's slope (< 2000 for these schedules) -> far below 1e-10.
        EXPECT_TRUE(r.spectral.applicable);
        EXPECT_NEAR(r.spectral.rms, e.rms, 1e-10) << row.weight.pattern << " " << r.schedule;
        EXPECT_NEAR(r.spectral.max_dev, e.max_dev, 1e-10) << r.schedule;
        EXPECT_NEAR(r.spectral.min_value, e.min, 1e-10) << r.schedule;
        EXPECT_NEAR(r.spectral.max_value, e.max, 1e-10) << r.schedule;
        EXPECT_EQ(r.spectral.spectra, options.samples);
        EXPECT_GT(r.spectral.rms, 1e-4) << "an error of exactly zero means nothing was computed";
      }
      // The envelope is refined beyond the grid, so it is at least the grid maximum, and the
      // grid (spacing 5e-6, at a smooth maximum the error is O(h^2 p'')) is within 1e-6 of it.
      // Every normalization (Frobenius, Schatten, AOL) puts the spectrum into [0, 1].
      const GridExtremes g = grid_extremes(recipe.steps);
      EXPECT_GE(r.spectral.envelope_max, g.max - 1e-12) << r.schedule;
      EXPECT_LE(r.spectral.envelope_max, g.max + 1e-6) << r.schedule;
      const bool over = g.max > report.envelope_bound;
      const bool negative = g.min_any_step < 0;
      EXPECT_EQ(r.unsafe, over || negative) << row.weight.pattern << " " << r.schedule;
      const auto has = [&r](const std::string& f) {
        return std::find(r.flags.begin(), r.flags.end(), f) != r.flags.end();
      };
      EXPECT_EQ(has("unsafe-envelope"), over) << r.schedule;
      EXPECT_EQ(has("unsafe-negative"), negative) << r.schedule;
      EXPECT_EQ(has("matrix-over-bound"), r.matrix.max_sv > report.envelope_bound) << r.schedule;
      const bool published = r.schedule != "root-paper" ||
                             (key.rows == 2048 && (key.cols == 2048 || key.cols == 8192));
      EXPECT_EQ(r.fallback, !published) << row.weight.pattern << " " << r.schedule;
      ++checked;
    }
  }
  EXPECT_EQ(checked, 7 * 6);
  EXPECT_EQ(report.envelope_bound, kDefaultEnvelopeBound);
}

TEST(AuditSpectral, TurboMuonsFirstStepFlipsTheTopOfTheIntervalAndIsFlagged) {
  // The "aol" set's first step p_1(s) = 4.0098 s - 7.0585 s^3 + 2.4635 s^5 is negative above
  // s = 0.884 (p_1(1) = -0.5852): AOL bounds sigma by 1, not by 0.88, so the audit must call it
  // unsafe-negative whatever the spectra.
  AuditOptions o = test::small_options("tiny-llama.json");
  o.schedules = {kTurboMuon};
  const AuditReport report = run_audit(o);
  const ScheduleAudit& t = report.rows.at(2).results.at(0);
  EXPECT_EQ(t.recipe, "aol, standard, 4 steps");
  EXPECT_LE(t.spectral.step_min, 4.0098 - 7.0585 + 2.4635 + 1e-12);  // later steps go lower
  EXPECT_TRUE(t.unsafe);
}

TEST(AuditSpectral, RootPaperSquareShapeIsFlaggedUnsafe) {
  // coefficients.md: the (2048, 2048) triple's 5-step map reaches about 3.31.
  const AuditReport report = run_audit(test::small_options("root-shapes.json"));
  const AuditRow& q = report.rows.at(2);
  ASSERT_EQ(q.weight.pattern, "model.layers.*.self_attn.q_proj");
  const ScheduleAudit& root = q.results.at(3);  // muon, polar-express, you, root-paper, ...
  ASSERT_EQ(root.schedule, "root-paper");
  EXPECT_NEAR(root.spectral.envelope_max, 3.31, 0.01);
  EXPECT_TRUE(root.unsafe);
}

TEST(AuditSpectral, TableScheduleThatFlipsSignsIsUnsafeNegative) {
  // p_1(s) = 1.5 s - 3 s^3 is negative for s > 1/sqrt(2): a singular value would flip sign. The
  // identity steps after it keep the map bounded (repeating p_1 would explode past what a table
  // may hold, docs/table-format.md).
  test::ScratchDir dir;
  CoefficientTable table;
  table.set({64, 64}, Schedule("flips", {{1.5, -3.0, 0.0}, {1, 0, 0}, {1, 0, 0}, {1, 0, 0}}));
  table.save((dir / "t.h5").string());
  AuditOptions o = test::small_options("tiny-llama.json");
  o.table_path = (dir / "t.h5").string();
  o.schedules = {"polar-express"};
  const AuditReport report = run_audit(o);
  ASSERT_EQ(report.schedules, (std::vector<std::string>{"table", "polar-express"}));
  const ScheduleAudit& t = report.rows.at(2).results.at(0);  // q_proj 64x64: exact entry
  EXPECT_EQ(t.origin, "exact");
  EXPECT_FALSE(t.fallback);
  EXPECT_LT(t.spectral.step_min, 0);
  EXPECT_TRUE(t.unsafe);
  EXPECT_NE(std::find(t.flags.begin(), t.flags.end(), "unsafe-negative"), t.flags.end());
  const ScheduleAudit& k = report.rows.at(3).results.at(0);  // k_proj 32x64: not in the table
  EXPECT_TRUE(k.fallback);
  EXPECT_NE(k.origin.find("64x64"), std::string::npos) << k.origin;
  EXPECT_FALSE(report.rows.at(2).results.at(1).unsafe);
}

}  // namespace
}  // namespace rootopt
