// --matrices: matching datasets to layers (by name, else by shape), the numbers on the user's own
// matrices against an independent SVD, and every bad input (clear error naming the dataset).
#include <gtest/gtest.h>

#include <Eigen/SVD>
#include <cmath>
#include <limits>

#include "audit_test_support.h"
#include "matrix_matching.h"
#include "reference_recipes.h"
#include "rootopt/audit.h"
#include "rootopt/error.h"

namespace rootopt {
namespace {

using test::Dataset;

// Runs the audit on `datasets` (tiny-llama) and returns the error message ("" on success).
std::string audit_error(const std::vector<Dataset>& datasets) {
  test::ScratchDir dir;
  const std::string file = (dir / "m.h5").string();
  test::write_datasets(file, datasets);
  AuditOptions o = test::small_options("tiny-llama.json");
  o.matrices_path = file;
  try {
    run_audit(o);
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

TEST(AuditMatching, NamesMatchPatternsFromTheEnd) {
  const std::string p = "model.layers.*.mlp.down_proj";
  EXPECT_TRUE(audit::dataset_matches_pattern("/model.layers.3.mlp.down_proj", p));
  EXPECT_TRUE(audit::dataset_matches_pattern("/layers.3.mlp.down_proj.weight", p));
  EXPECT_TRUE(audit::dataset_matches_pattern("/step_100/mlp.down_proj", p));
  EXPECT_TRUE(audit::dataset_matches_pattern("down_proj", p));
  EXPECT_FALSE(audit::dataset_matches_pattern("/layers.3.mlp.up_proj", p));
  EXPECT_FALSE(audit::dataset_matches_pattern("/other.layers.3.mlp.down_proj", p));
  EXPECT_FALSE(audit::dataset_matches_pattern("/layers.3.attn.down_proj", p));
  EXPECT_FALSE(audit::dataset_matches_pattern("/weight", p));
}

TEST(AuditMatching, ByNameElseByShapeAndNumbersFromTheUsersMatrices) {
  test::ScratchDir dir;
  const std::string file = (dir / "m.h5").string();
  const std::vector<Dataset> data{
      test::gaussian_dataset("/model.layers.0.mlp.down_proj", 64, 128, 1),
      test::gaussian_dataset("/step_10/layers.1.self_attn.k_proj.weight", 32, 64, 2),
      test::gaussian_dataset("/anonymous", 128, 64, 3)};  // by shape: gate_proj and up_proj
  test::write_datasets(file, data);
  AuditOptions o = test::small_options("tiny-llama.json");
  o.matrices_path = file;
  o.precision = Precision::fp64;
  o.proxy_rank = 64;  // every tiny-llama shape runs at full size
  const AuditReport report = run_audit(o);

  const std::map<std::string, int> expected_dataset{{"model.layers.*.mlp.down_proj", 0},
                                                    {"model.layers.*.self_attn.k_proj", 1},
                                                    {"model.layers.*.mlp.gate_proj", 2},
                                                    {"model.layers.*.mlp.up_proj", 2}};
  for (const AuditRow& row : report.rows) {
    const auto it = expected_dataset.find(row.weight.pattern);
    if (it == expected_dataset.end()) {
      EXPECT_FALSE(row.audited) << row.weight.pattern;
      EXPECT_TRUE(row.results.empty());
      continue;
    }
    ASSERT_TRUE(row.audited) << row.weight.pattern;
    const Dataset& d = data[size_t(it->second)];
    EXPECT_NE(row.source.find(d.name), std::string::npos) << row.source;
    // Independent reference (reference_recipes.h): Eigen's Jacobi SVD of the stored values,
    // normalised as the recipe normalizes, pushed through each schedule's scalar map.
    const Eigen::MatrixXd m = test::dataset_matrix(d);
    const std::vector<double> s = test::reference_spectrum(m);
    for (const ScheduleAudit& r : row.results) {
      const test::ReferenceRecipe recipe = test::reference_recipe(r.schedule, row.weight.key());
      if (recipe.schatten == 0) continue;  // turbo-muon: anchors_test.cpp
      const double expected = test::reference_spectral(recipe, {s}).rms;
      // Two fp64 SVDs agree to ~1e-14 relative; the map's slope (< 2e3) keeps this below 1e-9.
      EXPECT_NEAR(r.spectral.rms, expected, 1e-9) << row.weight.pattern << " " << r.schedule;
      EXPECT_EQ(r.spectral.spectra, 1);
      EXPECT_NEAR(r.matrix.rms, expected, 1e-9) << "fp64 iterations on the user's matrix itself";
      EXPECT_FALSE(r.matrix.proxy);
      EXPECT_GT(r.matrix.rms, 1e-4);
    }
  }
  EXPECT_EQ(report.provenance.at(0).first, "rootopt_version");
}

TEST(AuditMatching, LargeUserMatricesRunOnAProxyWithTheirSpectrum) {
  test::ScratchDir dir;
  const std::string file = (dir / "m.h5").string();
  test::write_datasets(file, {test::gaussian_dataset("layers.0.mlp.down_proj", 64, 128, 4)});
  AuditOptions o = test::small_options("tiny-llama.json");
  o.matrices_path = file;
  o.proxy_rank = 16;
  const AuditReport report = run_audit(o);
  const AuditRow& down = report.rows.back();
  ASSERT_EQ(down.weight.pattern, "model.layers.*.mlp.down_proj");
  ASSERT_TRUE(down.audited);
  EXPECT_TRUE(down.results.at(0).matrix.proxy);
  EXPECT_EQ(down.results.at(0).matrix.shape, (Shape{16, 32}));
}

TEST(AuditMatching, UnknownNameAndShapeIsAnErrorNamingTheDataset) {
  const std::string e = audit_error({test::gaussian_dataset("/model.layers.0.mlp.foo", 7, 9, 1)});
  EXPECT_NE(e.find("model.layers.0.mlp.foo"), std::string::npos) << e;
  EXPECT_NE(e.find("matches no layer"), std::string::npos) << e;
}

TEST(AuditMatching, KnownNameWithTheWrongShapeIsAnError) {
  const std::string e = audit_error({test::gaussian_dataset("layers.0.mlp.down_proj", 64, 64, 1)});
  EXPECT_NE(e.find("layers.0.mlp.down_proj"), std::string::npos) << e;
  EXPECT_NE(e.find("not its shape"), std::string::npos) << e;
}

TEST(AuditMatching, AdamwLayerIsAnError) {
  const std::string e = audit_error({test::gaussian_dataset("model.embed_tokens", 100, 64, 1)});
  EXPECT_NE(e.find("AdamW"), std::string::npos) << e;
}

TEST(AuditMatching, NotTwoDimensionalIsAnErrorNamingTheDataset) {
  Dataset cube{"/buffers/cube", {2, 3, 4}, std::vector<double>(24, 1.0)};
  std::string e = audit_error({test::gaussian_dataset("q", 64, 64, 1), cube});
  EXPECT_NE(e.find("/buffers/cube"), std::string::npos) << e;
  EXPECT_NE(e.find("3 dimensions"), std::string::npos) << e;
  e = audit_error({Dataset{"/vector", {5}, std::vector<double>(5, 1.0)}});
  EXPECT_NE(e.find("/vector"), std::string::npos) << e;
  EXPECT_NE(e.find("1 dimensions"), std::string::npos) << e;
}

TEST(AuditMatching, NonFiniteAndIntegerDataAreErrorsNamingTheDataset) {
  Dataset bad = test::gaussian_dataset("/layers.0.mlp.down_proj", 64, 128, 1);
  bad.values[77] = std::numeric_limits<double>::quiet_NaN();
  std::string e = audit_error({bad});
  EXPECT_NE(e.find("layers.0.mlp.down_proj"), std::string::npos) << e;
  EXPECT_NE(e.find("non-finite"), std::string::npos) << e;
  bad.values[77] = std::numeric_limits<double>::infinity();
  EXPECT_NE(audit_error({bad}).find("non-finite"), std::string::npos);
  Dataset ints{"/counts", {64, 64}, std::vector<double>(64 * 64, 1.0), true};
  e = audit_error({ints});
  EXPECT_NE(e.find("/counts"), std::string::npos) << e;
  EXPECT_NE(e.find("not floating point"), std::string::npos) << e;
}

TEST(AuditMatching, UnreadableFileIsAnError) {
  test::ScratchDir dir;
  AuditOptions o = test::small_options("tiny-llama.json");
  o.matrices_path = test::fixture("tiny-llama.json");  // not HDF5
  EXPECT_THROW(run_audit(o), Error);
  o.matrices_path = (dir / "absent.h5").string();
  EXPECT_THROW(run_audit(o), Error);
}

}  // namespace
}  // namespace rootopt
