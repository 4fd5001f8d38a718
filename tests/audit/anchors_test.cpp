// The audit compares schedules as deployed, with two anchors next to the built-ins:
// polar-express-schatten8 (the spectral level under Schatten-8 against an fp64 SVD of the
// matrices) and turbo-muon (AOL + 4 steps against an independent fp64 implementation, compared
// with the polar factor of the original matrix); the cost column against the cost model; bad
// schedule names.
#include <gtest/gtest.h>

#include <Eigen/QR>
#include <algorithm>
#include <cmath>

#include "audit_test_support.h"
#include "reference_recipes.h"
#include "rootopt/audit.h"
#include "rootopt/cost_model.h"
#include "rootopt/error.h"
#include "schedule_set.h"

namespace rootopt {
namespace {

// User matrices for tiny-llama, small enough to run at full size (proxy rank 64): an orthogonal
// q_proj (a flat spectrum, which AOL maps to sigma = 1 exactly), a Gaussian k_proj, a tall
// gate_proj (processed transposed) and a down_proj whose rows are scaled over three decades, so
// its spectrum is spread and AOL's row scaling changes the singular vectors a lot (a Turbo-Muon
// compared with the polar factor of diag(s) B instead of B's would pass on well-conditioned
// input only).
std::vector<test::Dataset> anchor_datasets() {
  test::Dataset orthogonal = test::gaussian_dataset("/model.layers.0.self_attn.q_proj", 64, 64, 20);
  const Eigen::MatrixXd q =
      Eigen::HouseholderQR<Eigen::MatrixXd>(test::dataset_matrix(orthogonal)).householderQ();
  for (Eigen::Index i = 0; i < 64; ++i)
    for (Eigen::Index j = 0; j < 64; ++j) orthogonal.values[size_t(i * 64 + j)] = q(i, j);
  test::Dataset spread = test::gaussian_dataset("/model.layers.0.mlp.down_proj", 64, 128, 23);
  for (size_t i = 0; i < 64; ++i)
    for (size_t j = 0; j < 128; ++j) spread.values[i * 128 + j] *= std::pow(10.0, -3.0 * i / 63);
  return {orthogonal, test::gaussian_dataset("/model.layers.0.self_attn.k_proj", 32, 64, 21),
          test::gaussian_dataset("/model.layers.0.mlp.gate_proj", 128, 64, 22), spread};
}

struct UserAudit {
  test::ScratchDir dir;
  std::vector<test::Dataset> data = anchor_datasets();
  AuditOptions options = test::small_options("tiny-llama.json");
  UserAudit() {
    test::write_datasets((dir / "m.h5").string(), data);
    options.matrices_path = (dir / "m.h5").string();
    options.proxy_rank = 64;
  }
  // The dataset a row was audited on (each row here matches exactly one).
  const test::Dataset& dataset_of(const AuditRow& row) const {
    for (const test::Dataset& d : data)
      if (row.source.find(d.name) != std::string::npos) return d;
    throw std::logic_error("no dataset for " + row.weight.pattern);
  }
};

TEST(AuditAnchors, SpectralLevelUnderEachNormalizationMatchesAnSvdOfTheMatrices) {
  UserAudit user;
  user.options.schedules = {"polar-express", kPolarExpressSchatten8, "muon", kTurboMuon};
  const AuditReport report = run_audit(user.options);
  int64_t checked = 0;
  for (const AuditRow& row : report.rows) {
    if (!row.audited) continue;
    const std::vector<double> s =
        test::reference_spectrum(test::dataset_matrix(user.dataset_of(row)));
    for (const ScheduleAudit& r : row.results) {
      const test::ReferenceRecipe recipe = test::reference_recipe(r.schedule, row.weight.key());
      if (recipe.schatten == 0) continue;  // below
      const test::ReferenceErrors e = test::reference_spectral(recipe, {s});
      // Jacobi SVD here, LAPACK's divide and conquer there: singular values agree to ~1e-14
      // relative; ||s||_8 from the spectrum here and there; the composed map's slope (< 2e3)
      // keeps the RMS difference below 1e-9.
      EXPECT_NEAR(r.spectral.rms, e.rms, 1e-9) << row.weight.pattern << " " << r.schedule;
      EXPECT_NEAR(r.spectral.max_value, e.max, 1e-9) << row.weight.pattern << " " << r.schedule;
      ++checked;
    }
    // The ablation is not the same schedule under another name: Schatten-8 moves the error.
    const ScheduleAudit& frobenius = row.results.at(0);
    const ScheduleAudit& schatten8 = row.results.at(1);
    EXPECT_EQ(schatten8.recipe, "schatten8, standard, 5 steps");
    EXPECT_EQ(frobenius.recipe, "frobenius, standard, 5 steps");
    EXPECT_GT(std::abs(schatten8.spectral.rms - frobenius.spectral.rms), 1e-4);
  }
  EXPECT_EQ(checked, 4 * 3);  // q_proj, k_proj, gate_proj, down_proj: matched by name
}

TEST(AuditAnchors, TurboMuonMatchesAnIndependentAolImplementationAgainstTheOriginalPolar) {
  UserAudit user;
  user.options.schedules = {kTurboMuon, "polar-express"};
  user.options.precision = Precision::fp64;
  const AuditReport fp64 = run_audit(user.options);
  user.options.precision = Precision::bf16;
  const AuditReport bf16 = run_audit(user.options);
  int64_t checked = 0;
  for (size_t w = 0; w < fp64.rows.size(); ++w) {
    const AuditRow& row = fp64.rows[w];
    if (!row.audited) continue;
    const Eigen::MatrixXd b = test::dataset_matrix(user.dataset_of(row));
    const Eigen::MatrixXd polar = test::reference_polar(b);
    const double expected = test::reference_rms(test::reference_turbo_muon(b), polar);
    const ScheduleAudit& t = row.results.at(0);
    ASSERT_EQ(t.schedule, kTurboMuon);
    EXPECT_FALSE(t.matrix.proxy);
    EXPECT_EQ(t.matrix.matrices, 1);
    // fp64 throughout; AOL's row sums and 4 steps of a map with slope < 20 amplify the ~1e-15
    // rounding and the two SVDs' ~1e-14 disagreement far below 1e-9.
    EXPECT_NEAR(t.matrix.rms, expected, 1e-9) << row.weight.pattern;
    EXPECT_EQ(t.matrix.exact_rms, t.matrix.rms);
    EXPECT_FALSE(t.matrix.exact_from_spectrum);
    EXPECT_FALSE(t.spectral.applicable);
    if (row.weight.pattern == "model.layers.*.self_attn.q_proj") {
      // An orthogonal input: AOL scales it to sigma = 1, where the "aol" set's first step is
      // p_1(1) = -0.585 and the four steps end near -1: Turbo-Muon returns about -U V^T.
      EXPECT_GT(expected, 1.9);
    }
    if (row.weight.pattern == "model.layers.*.mlp.down_proj") {
      // The spread input makes the reference discriminating: diag(s) B's polar factor is far
      // from B's, so an audit measuring against the wrong one would miss the 1e-9 above.
      const Eigen::MatrixXd turbo = test::reference_turbo_muon(b);  // wide already
      const double against_aol =
          test::reference_rms(turbo, test::reference_polar(test::reference_aol(b)));
      EXPECT_GT(std::abs(against_aol - expected), 1e-3);
    }

    const ScheduleAudit& t16 = bf16.rows[w].results.at(0);
    // bf16's exact column is the recipe in fp64: the same number as the fp64 audit's.
    EXPECT_NEAR(t16.matrix.exact_rms, expected, 1e-9) << row.weight.pattern;
    // bf16 keeps 8 significant bits (unit roundoff 2^-9 per operation); 4 steps of a contraction
    // towards 1 keep the final error within a few percent of fp64's, and move it.
    EXPECT_LT(std::abs(t16.matrix.rms - expected), 0.05) << row.weight.pattern;
    EXPECT_NE(t16.matrix.rms, t.matrix.rms) << "bf16 not applied";
    ++checked;
  }
  EXPECT_EQ(checked, 4);
}

TEST(AuditAnchors, CostColumnIsTheCostModelsAtTheKeyShape) {
  AuditOptions o = test::small_options("root-shapes.json");
  for (const int64_t steps : {5, 7}) {
    o.steps = steps;
    const AuditReport report = run_audit(o);
    for (const AuditRow& row : report.rows) {
      if (!row.audited) continue;
      const audit::ScheduleSet set({"", o.schedules, steps});
      const std::vector<audit::ResolvedSchedule> resolved = set.resolve(row.weight.key());
      for (size_t j = 0; j < row.results.size(); ++j) {
        const ScheduleAudit& r = row.results[j];
        EXPECT_EQ(r.cost,
                  recipe_cost(resolved[j].recipe, row.weight.key(), Precision::bf16, kGpuProfile))
            << r.schedule;
        // Independently: standard-form steps all cost the same GEMMs, so K standard steps cost
        // K/5 of Polar Express's 5 (AOL and Schatten-8 reuse step 1's Gram products).
        const double k = r.schedule == kTurboMuon ? 4 : double(steps);
        EXPECT_NEAR(r.cost, k / 5, 1e-15) << r.schedule;
      }
    }
  }
}

TEST(AuditAnchors, StepsApplyToTheBuiltInsAndTheAblationNotToTurboMuon) {
  AuditOptions o = test::small_options("tiny-llama.json");
  o.schedules = {"polar-express", kPolarExpressSchatten8, kTurboMuon};
  o.steps = 6;
  const AuditReport report = run_audit(o);
  const std::vector<ScheduleAudit>& r = report.rows.at(2).results;
  EXPECT_EQ(r.at(0).recipe, "frobenius, standard, 6 steps");
  EXPECT_EQ(r.at(1).recipe, "schatten8, standard, 6 steps");
  EXPECT_EQ(r.at(2).recipe, "aol, standard, 4 steps");
}

TEST(AuditAnchors, BadScheduleNamesAreErrorsListingTheAnchors) {
  AuditOptions o = test::small_options("tiny-llama.json");
  o.schedules = {"muon", "turbo"};
  try {
    run_audit(o);
    FAIL() << "unknown anchor accepted";
  } catch (const Error& e) {
    const std::string what = e.what();
    EXPECT_NE(what.find("unknown schedule 'turbo'"), std::string::npos) << what;
    EXPECT_NE(what.find("polar-express-schatten8"), std::string::npos) << what;
    EXPECT_NE(what.find("turbo-muon"), std::string::npos) << what;
  }
  o.schedules = {kTurboMuon, "muon", kTurboMuon};
  try {
    run_audit(o);
    FAIL() << "repeated anchor accepted";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("'turbo-muon' given twice"), std::string::npos)
        << e.what();
  }
  o.schedules = {kPolarExpressSchatten8};
  o.steps = kMaxRecipeSteps + 1;
  EXPECT_THROW(run_audit(o), Error);
  o.steps = -1;
  EXPECT_THROW(run_audit(o), Error);
}

}  // namespace
}  // namespace rootopt
