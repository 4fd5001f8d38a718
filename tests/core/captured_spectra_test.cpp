// The captured family on small HDF5 files written here: 1-D spectra and 2-D matrices, file= and
// set= selection, rescaling, and the errors for missing or unusable data.
#include <gtest/gtest.h>
#include <stdlib.h>

#include <cmath>
#include <filesystem>

#include "h5.h"
#include "rootopt/error.h"
#include "rootopt/spectrum_family.h"

namespace rootopt {
namespace {

namespace fs = std::filesystem;

class CapturedSpectra : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("rootopt_captured_" + std::to_string(::getpid()));
    fs::create_directories(dir_ / "spectra" / "heldout");
    file_ = (dir_ / "spectra" / "heldout" / "tiny.h5").string();
    const h5::Id file = h5::create_file(file_);
    // A raw spectrum in the capture layout /<layer>/step_<N>, and a 2 x 3 matrix diag(3, 4).
    const std::vector<double> raw{8.0, 6.0};
    H5Gclose(H5Gcreate2(file, "/layer0", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT));
    h5::write_doubles(file, "/layer0/step_10", {2}, raw.data());
    const std::vector<double> matrix{3, 0, 0, 0, -4, 0};
    h5::write_doubles(file, "/matrix", {2, 3}, matrix.data());
    const std::vector<int64_t> ints{1, 2, 3};
    h5::write_int64s(file, "/not_a_spectrum", {3}, ints.data());  // integer: skipped
  }
  void TearDown() override { fs::remove_all(dir_); }

  fs::path dir_;
  std::string file_;
};

TEST_F(CapturedSpectra, ReadsVectorsAndMatricesFromFile) {
  const auto family = make_family("captured:file=" + file_);
  EXPECT_EQ(family->params().at("spectra"), 2.0);
  EXPECT_EQ(family->spec(), "captured:file=" + file_);
  // Both stored spectra normalise to (0.8, 0.6): [8, 6] directly, diag(3, -4) via its SVD.
  for (uint64_t seed = 0; seed < 6; ++seed) {
    const Spectrum s = family->sample({2, 5}, seed);
    ASSERT_EQ(s.size(), 2u);
    EXPECT_NEAR(s[0], 0.8, 1e-14);
    EXPECT_NEAR(s[1], 0.6, 1e-14);
  }
  const Spectrum longer = family->sample({4, 4}, 1);  // rescaled to r = 4 and renormalised
  ASSERT_EQ(longer.size(), 4u);
  EXPECT_GT(longer[0], longer[3]);
  EXPECT_EQ(longer, make_captured_family({file_})->sample({4, 4}, 1));
}

// Sources weigh the same: a model that stored 9 spectra is drawn as often as one that stored 1.
TEST_F(CapturedSpectra, SamplesSourcesUniformly) {
  const std::string many = (dir_ / "many.h5").string(), one = (dir_ / "one.h5").string();
  {
    const h5::Id file = h5::create_file(many);
    h5::write_attribute(file, "model_id", std::string("big-run"));
    const std::vector<double> values{1.0, 1.0};  // normalises to (0.707, 0.707)
    for (int i = 0; i < 9; ++i)
      h5::write_doubles(file, "/s" + std::to_string(i), {2}, values.data());
  }
  {
    const h5::Id file = h5::create_file(one);
    h5::write_attribute(file, "model_id", std::string("small-run"));
    const std::vector<double> values{1.0, 0.0};  // normalises to (1, 0)
    h5::write_doubles(file, "/s", {2}, values.data());
  }
  const auto family = make_captured_family({many, one});
  EXPECT_EQ(family->params().at("spectra"), 10.0);
  EXPECT_EQ(family->params().at("sources"), 2.0);
  const int draws = 4000;
  int small = 0;
  for (int seed = 0; seed < draws; ++seed)
    small += family->sample({2, 2}, uint64_t(seed))[1] == 0.0;
  // Binomial(4000, 1/2): standard deviation ~32, so +-200 (6 sigma) cannot fail by chance, while
  // drawing spectra uniformly (1/10 small) would give ~400.
  EXPECT_NEAR(small, draws / 2, 200);
}

TEST_F(CapturedSpectra, SelectsSetFromDataDirectory) {
  const char* old = std::getenv("ROOTOPT_DATA_DIR");
  const std::string saved = old ? old : "";
  ::setenv("ROOTOPT_DATA_DIR", dir_.c_str(), 1);
  EXPECT_EQ(data_directory(), dir_.string());
  const auto family = make_family("captured:set=heldout");
  EXPECT_EQ(family->spec(), "captured:set=heldout");
  EXPECT_EQ(family->sample({2, 2}, 0).size(), 2u);
  EXPECT_THROW(make_family("captured:set=fit"), Error);  // no fit/ directory here
  EXPECT_THROW(make_family("captured:set=heldout,file=" + file_), Error);
  if (old)
    ::setenv("ROOTOPT_DATA_DIR", saved.c_str(), 1);
  else
    ::unsetenv("ROOTOPT_DATA_DIR");
}

TEST_F(CapturedSpectra, RejectsUnusableFiles) {
  EXPECT_THROW(make_captured_family({(dir_ / "missing.h5").string()}), Error);
  const std::string empty = (dir_ / "empty.h5").string();
  { const h5::Id f = h5::create_file(empty); }
  try {
    make_captured_family({empty});
    FAIL() << "file without spectra accepted";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("empty.h5"), std::string::npos) << e.what();
  }
  const std::string bad = (dir_ / "bad.h5").string();
  {
    const h5::Id f = h5::create_file(bad);
    const std::vector<double> values{1.0, std::nan("")};
    h5::write_doubles(f, "/s", {2}, values.data());
  }
  EXPECT_THROW(make_captured_family({bad}), Error);
}

TEST_F(CapturedSpectra, DefaultMixtureNeedsTheFitSet) {
  const char* old = std::getenv("ROOTOPT_DATA_DIR");
  const std::string saved = old ? old : "";
  ::setenv("ROOTOPT_DATA_DIR", dir_.c_str(), 1);  // holds spectra/heldout only
  try {
    SpectrumMixture::default_mixture();
    ADD_FAILURE() << "default mixture built without captured fit spectra";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("spectra/fit"), std::string::npos) << e.what();
  }
  if (old) {
    ::setenv("ROOTOPT_DATA_DIR", saved.c_str(), 1);
  } else {
    ::unsetenv("ROOTOPT_DATA_DIR");
  }
}

TEST(CapturedBundled, ShippedFitSetIsUsableWhenPresent) {
  const fs::path fit = fs::path(data_directory()) / "spectra" / "fit";
  if (!fs::is_directory(fit)) GTEST_SKIP() << "no bundled captured spectra in " << fit;
  const auto family = make_family("captured");
  const Spectrum s = family->sample({2048, 2048}, 3);
  ASSERT_EQ(s.size(), 2048u);
  double sum = 0;
  for (double v : s) sum += v * v;
  EXPECT_NEAR(sum, 1.0, 1e-12);
  // The documented default mixture (docs/spectrum-families.md): five families, weights sum to 1,
  // captured the heaviest.
  const SpectrumMixture mixture = SpectrumMixture::default_mixture();
  ASSERT_EQ(mixture.components().size(), 5u);
  double total = 0, captured = 0;
  for (const auto& [component, weight] : mixture.components()) {
    total += weight;
    if (component->name() == "captured") captured = weight;
  }
  EXPECT_NEAR(total, 1.0, 1e-12);
  EXPECT_EQ(captured, 0.4);
  EXPECT_EQ(mixture.sample_many({128, 512}, 1, 50).size(), 50u);
}

}  // namespace
}  // namespace rootopt
