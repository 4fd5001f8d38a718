// The audit's matrix level: in fp64 every recipe with a spectral model, run on the sampled (proxy)
// matrices, must reproduce the exact map on those matrices' spectra under its normalization; in
// bf16 they must not, by a bounded amount. The reference spectra are rebuilt here from the
// documented seeds. (Turbo-Muon against an independent AOL implementation: anchors_test.cpp.)
#include <gtest/gtest.h>

#include <cmath>

#include "audit_test_support.h"
#include "reference_recipes.h"
#include "rootopt/audit.h"
#include "rootopt/spectrum_family.h"

namespace rootopt {
namespace {

// The exact map under the recipe's normalization, by the independent scalar loop of
// reference_recipes.h, mean RMS over the proxy spectra of the first matrix samples.
double proxy_prediction(const test::ReferenceRecipe& recipe, Shape key, const AuditOptions& o) {
  const SpectrumMixture mixture = SpectrumMixture::default_mixture();
  const Shape proxy = proxy_shape(key, o.proxy_rank);
  std::vector<std::vector<double>> spectra;
  for (int64_t i = 0; i < o.matrix_samples; ++i) {
    Spectrum s = mixture.sample(key, audit_shape_seed(o.seed, key), i);
    if (proxy != key) s = normalised_spectrum(rescale_spectrum(s, proxy.rank()));
    spectra.push_back(s);
  }
  return test::reference_spectral(recipe, spectra).rms;
}

TEST(AuditMatrix, Fp64IterationsEqualTheExactMapOnTheSameMatrices) {
  AuditOptions o = test::small_options("root-shapes.json");
  o.precision = Precision::fp64;
  const AuditReport report = run_audit(o);
  int64_t checked = 0;
  for (const AuditRow& row : report.rows) {
    for (const ScheduleAudit& r : row.results) {
      const Shape key = row.weight.key();
      EXPECT_TRUE(r.matrix.proxy) << "every shape of root-shapes.json exceeds proxy rank 32";
      EXPECT_EQ(r.matrix.shape, proxy_shape(key, o.proxy_rank));
      EXPECT_EQ(r.matrix.shape.rows, 32);
      EXPECT_NEAR(double(r.matrix.shape.cols) / 32, double(key.cols) / double(key.rows), 1.0 / 32);
      EXPECT_EQ(r.matrix.matrices, o.matrix_samples);
      EXPECT_GT(r.matrix.rms, 1e-4);
      ++checked;
      const test::ReferenceRecipe recipe = test::reference_recipe(r.schedule, key);
      if (recipe.schatten == 0) {  // turbo-muon: in fp64 its exact reference is the run itself
        EXPECT_FALSE(r.matrix.exact_from_spectrum);
        EXPECT_EQ(r.matrix.exact_rms, r.matrix.rms);
        continue;
      }
      const double predicted = proxy_prediction(recipe, key, o);
      // fp64 Newton-Schulz vs the exact map: rounding amplified by the map's slope (< 2e3) and
      // the SVD reference's backward error (~1e-15 relative) stay below 1e-9. Under Schatten-8
      // the norm comes from the Gram products there and from the spectrum here: equal to ~1e-15.
      EXPECT_NEAR(r.matrix.rms, predicted, 1e-9) << row.weight.pattern << " " << r.schedule;
      EXPECT_NEAR(r.matrix.exact_rms, predicted, 1e-12) << r.schedule;
      EXPECT_TRUE(r.matrix.exact_from_spectrum);
    }
  }
  EXPECT_EQ(checked, 7 * 6);
}

TEST(AuditMatrix, Bf16MovesTheErrorByABoundedAmount) {
  AuditOptions o = test::small_options("tiny-llama.json");
  o.proxy_rank = 64;  // tiny-llama's shapes run at full size
  const AuditReport report = run_audit(o);
  double largest_gap = 0;
  for (const AuditRow& row : report.rows)
    for (const ScheduleAudit& r : row.results) {
      EXPECT_FALSE(r.matrix.proxy);
      EXPECT_EQ(r.matrix.shape, row.weight.key());
      const double gap = std::abs(r.matrix.rms - r.matrix.exact_rms);
      largest_gap = std::max(largest_gap, gap);
      // bf16 keeps 8 significant bits (unit roundoff 2^-9 ~ 2e-3 per operation); five quintic
      // steps of a contraction towards 1 keep the final error within a few percent.
      EXPECT_LT(gap, 0.05) << row.weight.pattern << " " << r.schedule;
    }
  EXPECT_GT(largest_gap, 1e-5) << "bf16 results identical to fp64: precision not applied";
}

}  // namespace
}  // namespace rootopt
