// The audit's spectral level against an independent recomputation: the coefficients are typed in
// here from ../shared/reference/coefficients.md (not taken from builtin_schedule), and the
// composed map is a plain scalar fp64 recursion over the same sampled spectra.
#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <map>

#include "audit_test_support.h"
#include "rootopt/audit.h"
#include "rootopt/coefficient_table.h"
#include "rootopt/spectrum_family.h"

namespace rootopt {
namespace {

using Triple = std::array<double, 3>;
using Steps = std::vector<Triple>;

const Triple kMuon{3.4445, -4.7750, 2.0315};

Steps reference_steps(const std::string& name, Shape key) {
  if (name == "muon") return Steps(5, kMuon);
  if (name == "polar-express") {  // published list, first five, with the code's 1.01 safety
    Steps steps{{8.28721201814563, -23.595886519098837, 17.300387312530933},
                {4.107059111542203, -2.9478499167379106, 0.5448431082926601},
                {3.9486908534822946, -2.908902115962949, 0.5518191394370137},
                {3.3184196573706015, -2.488488024314874, 0.51004894012372},
                {2.300652019954817, -1.6689039845747493, 0.4188073119525673}};
    for (Triple& t : steps)
      t = {t[0] / 1.01, t[1] / (1.01 * 1.01 * 1.01), t[2] / std::pow(1.01, 5)};
    return steps;
  }
  if (name == "you")
    return {{4.0848, -6.8946, 2.9270},
            {3.9505, -6.3029, 2.6377},
            {3.7418, -5.5913, 2.3037},
            {2.8769, -3.1427, 1.2046},
            {2.8366, -3.0525, 1.2012}};
  const std::map<std::pair<int64_t, int64_t>, Triple> root{
      {{2048, 2048}, {3.4916, -4.8224, 2.1095}},
      {{2048, 3072}, {3.4509, -4.5790, 1.9325}},
      {{2048, 8192}, {2.9794, -3.6674, 1.6207}},
      {{2048, 16384}, {3.1943, -3.8221, 1.5322}}};
  const auto it = root.find({key.rows, key.cols});
  return Steps(5, it == root.end() ? kMuon : it->second);
}

double composed(const Steps& steps, double x) {
  for (const Triple& t : steps) x = t[0] * x + t[1] * x * x * x + t[2] * x * x * x * x * x;
  return x;
}

struct Expected {
  double rms = 0, max_dev = 0, min = 1e300, max = -1e300;
};

Expected recompute(const Steps& steps, const std::vector<Spectrum>& spectra) {
  Expected e;
  for (const Spectrum& s : spectra) {
    double sum = 0;
    for (double v : s) {
      const double p = composed(steps, v);
      sum += (p - 1) * (p - 1);
      e.max_dev = std::max(e.max_dev, std::abs(p - 1));
      e.min = std::min(e.min, p), e.max = std::max(e.max, p);
    }
    e.rms += std::sqrt(sum / double(s.size())) / double(spectra.size());
  }
  return e;
}

double grid_max(const Steps& steps) {
  double m = -1e300;
  for (int i = 0; i <= 200000; ++i) m = std::max(m, composed(steps, i / 200000.0));
  return m;
}

// root-shapes.json has the ROOT paper's published (2048, 2048) and (2048, 8192) shapes and an
// unpublished (512, 2048) one, so every branch of root-paper is exercised.
TEST(AuditSpectral, BuiltinsMatchIndependentRecursionOnTheSameSpectra) {
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
      const Steps steps = reference_steps(r.schedule, key);
      const Expected e = recompute(steps, spectra);
      // Same fp64 arithmetic in a different order: values differ by a few ulp, amplified by at
      // most the composed map's slope (< 2000 for these schedules) -> far below 1e-10.
      EXPECT_NEAR(r.spectral.rms, e.rms, 1e-10) << row.weight.pattern << " " << r.schedule;
      EXPECT_NEAR(r.spectral.max_dev, e.max_dev, 1e-10) << r.schedule;
      EXPECT_NEAR(r.spectral.min_value, e.min, 1e-10) << r.schedule;
      EXPECT_NEAR(r.spectral.max_value, e.max, 1e-10) << r.schedule;
      EXPECT_EQ(r.spectral.spectra, options.samples);
      EXPECT_GT(r.spectral.rms, 1e-4) << "an error of exactly zero means nothing was computed";
      // The envelope is refined beyond the grid, so it is at least the grid maximum, and the
      // grid (spacing 5e-6, at a smooth maximum the error is O(h^2 p'')) is within 1e-6 of it.
      const double g = grid_max(steps);
      EXPECT_GE(r.spectral.envelope_max, g - 1e-12) << r.schedule;
      EXPECT_LE(r.spectral.envelope_max, g + 1e-6) << r.schedule;
      const bool over = g > report.envelope_bound;
      EXPECT_EQ(r.unsafe, over) << row.weight.pattern << " " << r.schedule;
      const auto has = [&r](const std::string& f) {
        return std::find(r.flags.begin(), r.flags.end(), f) != r.flags.end();
      };
      EXPECT_EQ(has("unsafe-envelope"), over) << r.schedule;
      EXPECT_EQ(has("matrix-over-bound"), r.matrix.max_sv > report.envelope_bound) << r.schedule;
      const bool published = r.schedule != "root-paper" ||
                             (key.rows == 2048 && (key.cols == 2048 || key.cols == 8192));
      EXPECT_EQ(r.fallback, !published) << row.weight.pattern << " " << r.schedule;
      ++checked;
    }
  }
  EXPECT_EQ(checked, 7 * 4);
  EXPECT_EQ(report.envelope_bound, kDefaultAuditEnvelopeBound);
}

TEST(AuditSpectral, RootPaperSquareShapeIsFlaggedUnsafe) {
  // coefficients.md: the (2048, 2048) triple's 5-step map reaches about 3.31.
  const AuditReport report = run_audit(test::small_options("root-shapes.json"));
  const AuditRow& q = report.rows.at(2);
  ASSERT_EQ(q.weight.pattern, "model.layers.*.self_attn.q_proj");
  const ScheduleAudit& root = q.results.at(3);
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
