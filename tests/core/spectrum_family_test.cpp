// Properties every spectrum family must have (size, order, normalisation, determinism), each
// family's own shape, parameter validation, and mixtures.
#include <gtest/gtest.h>

#include <Eigen/Dense>
#include <cmath>
#include <numeric>
#include <random>

#include "rootopt/error.h"
#include "rootopt/spectrum_family.h"

namespace rootopt {
namespace {

void expect_valid(const Spectrum& s, int64_t rank, const std::string& what) {
  ASSERT_EQ(int64_t(s.size()), rank) << what;
  double sum = 0;
  for (size_t i = 0; i < s.size(); ++i) {
    EXPECT_TRUE(std::isfinite(s[i]) && s[i] >= 0 && s[i] <= 1) << what << " value " << i;
    if (i) {
      EXPECT_LE(s[i], s[i - 1]) << what << " not descending at " << i;
    }
    sum += s[i] * s[i];
  }
  EXPECT_NEAR(sum, 1.0, 1e-12) << what;  // Frobenius-normalised up to fp64 summation error
  EXPECT_GT(s.front(), 0.0) << what;
}

const std::vector<std::string> kSynthetic{"marchenko-pastur", "power-law", "low-rank",
                                          "decay-floor"};

TEST(SpectrumFamily, CommonPropertiesForManyShapes) {
  for (const std::string& name : kSynthetic) {
    const auto family = make_family(name);
    EXPECT_EQ(family->name(), name);
    for (Shape shape :
         {Shape{1, 1}, Shape{1, 50}, Shape{64, 64}, Shape{300, 100}, Shape{1024, 4096}}) {
      const Spectrum a = family->sample(shape, 7);
      expect_valid(a, shape.rank(), name + " " + to_string(shape));
      EXPECT_EQ(a, family->sample(shape, 7)) << name << ": not deterministic under a seed";
      if (shape.rank() > 4) {
        EXPECT_NE(a, family->sample(shape, 8)) << name << ": seeds 7 and 8 give the same sample";
      }
    }
  }
}

TEST(SpectrumFamily, SpecRoundTripsThroughMakeFamily) {
  for (const std::string& name : kSynthetic) {
    const auto family = make_family(name);
    const auto again = make_family(family->spec());
    EXPECT_EQ(again->params(), family->params());
    EXPECT_EQ(again->sample({40, 90}, 3), family->sample({40, 90}, 3));
  }
  EXPECT_EQ(make_family("power-law:alpha_min=0.5,alpha_max=0.5")->params().at("alpha_min"), 0.5);
}

TEST(SpectrumFamily, ParameterValidation) {
  for (const char* bad :
       {"nope", "power-law:alpha=1", "power-law:alpha_min=2,alpha_max=1", "power-law:alpha_min=x",
        "power-law:alpha_min=1e999", "power-law:alpha_min", "power-law:alpha_min=1,alpha_min=1",
        "low-rank:rank_fraction_max=1.5", "low-rank:signal_to_noise_max=0.5",
        "decay-floor:floor_min=0", "decay-floor:tau_min=0.5,tau_max=0.1",
        "marchenko-pastur:exact_max_rank=-1", "captured:bogus=1", "captured:set=a/b"}) {
    EXPECT_THROW(make_family(bad), Error) << bad;
  }
  try {
    make_family("power-law:alfa_min=1");
    FAIL() << "unknown key accepted";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("alfa_min"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("alpha_min"), std::string::npos) << e.what();
  }
}

TEST(MarchenkoPastur, LawQuantilesMatchExactGaussianSpectrum) {
  // The law sampler (forced by exact_max_rank=0) against the exact SVD of Gaussian matrices
  // (forced by exact_max_rank=4096): at r = 400 the empirical spectrum is within a few percent
  // of the law except at the edges (Tracy-Widom fluctuations ~ r^(-2/3)).
  for (Shape shape : {Shape{400, 400}, Shape{400, 1600}}) {
    const Spectrum law = make_family("marchenko-pastur:exact_max_rank=0")->sample(shape, 1);
    const Spectrum exact = make_family("marchenko-pastur:exact_max_rank=4096")->sample(shape, 1);
    for (size_t i = 20; i + 20 < law.size(); ++i)
      EXPECT_NEAR(law[i], exact[i], 0.03 * exact.front()) << to_string(shape) << " index " << i;
    // Edges of the law: s_max / s_min = (1 + sqrt(l)) / (1 - sqrt(l)) with l = r / c = 1/4.
    if (shape.cols == 1600) {
      EXPECT_NEAR(law.front() / law.back(), 3.0, 0.1);
    }
  }
}

TEST(PowerLaw, RatioOfFirstValuesIsTwoToAlpha) {
  const auto fixed = make_family("power-law:alpha_min=0.7,alpha_max=0.7");
  const Spectrum s = fixed->sample({100, 200}, 5);
  EXPECT_NEAR(s[0] / s[1], std::pow(2.0, 0.7), 1e-12);
  EXPECT_NEAR(s[9] / s[99], std::pow(10.0, 0.7), 1e-10);
  const auto range = make_family("power-law");
  for (uint64_t seed = 0; seed < 20; ++seed) {
    const Spectrum t = range->sample({100, 200}, seed);
    const double alpha = std::log2(t[0] / t[1]);
    EXPECT_GE(alpha, 0.3 - 1e-12);
    EXPECT_LE(alpha, 1.5 + 1e-12);
  }
}

TEST(LowRank, OneSignalOverMarchenkoPasturFloor) {
  // rank_fraction_max * r < 1 means exactly one signal value, with gain in [1, 50] times the
  // noise edge; the rest is the Marchenko-Pastur floor of a 200 x 400 matrix (lambda = 1/2),
  // whose largest / smallest singular values are (1 + sqrt(1/2)) / (1 - sqrt(1/2)) = 5.83.
  const auto family = make_family("low-rank:rank_fraction_max=0.001,signal_to_noise_max=50");
  double largest_gain = 0;
  for (uint64_t seed = 0; seed < 20; ++seed) {
    const Spectrum s = family->sample({200, 400}, seed);
    const double gain = s[0] / s[1];  // s[1] is the second noise quantile, within 3% of the edge
    EXPECT_GE(gain, 1.0 / 1.03);
    EXPECT_LE(gain, 50.0 * 1.03);
    // Inside the law's support, so below its edge ratio 5.83; stratification keeps the extremes
    // in the outer 1/r quantile cells, where the law's sqrt edges put them within ~8%.
    EXPECT_LT(s[1] / s.back(), 5.83);
    EXPECT_GT(s[1] / s.back(), 5.0);
    largest_gain = std::max(largest_gain, gain);
  }
  EXPECT_GT(largest_gain, 5.0);  // log-uniform gains in [1, 50]: 20 draws all below 5 is 1e-6
}

TEST(DecayFloor, TailSitsAtTheFloor) {
  const auto family =
      make_family("decay-floor:tau_min=0.01,tau_max=0.01,floor_min=1e-3,floor_max=1e-3");
  const Spectrum s = family->sample({500, 500}, 2);
  EXPECT_NEAR(s.back() / s.front(), 1e-3 / (1 + 1e-3), 1e-12);  // exp(-100) is far below 1e-3
  EXPECT_NEAR(s[5] / s.front(), (std::exp(-1.0) + 1e-3) / (1 + 1e-3), 1e-12);  // i = tau r = 5
}

TEST(Normalise, RejectsBadInputAndRescales) {
  EXPECT_THROW(normalised_spectrum({}), Error);
  EXPECT_THROW(normalised_spectrum({0, 0}), Error);
  EXPECT_THROW(normalised_spectrum({1, -1}), Error);
  EXPECT_THROW(normalised_spectrum({1, std::nan("")}), Error);
  const Spectrum n = normalised_spectrum({3, 4});
  EXPECT_DOUBLE_EQ(n[0], 0.8);
  EXPECT_DOUBLE_EQ(n[1], 0.6);
  const Spectrum tiny = normalised_spectrum({3e-200, 4e-200});
  EXPECT_DOUBLE_EQ(tiny[0], 0.8);
  // Subnormal values (a few significant bits each): still unit norm to fp64 rounding, a few ulps
  // for two values. Scaling by a subnormal norm left it off by ~1e-4.
  for (const Spectrum& input :
       {Spectrum{3e-320, 2e-320}, Spectrum{2.6e-312, 1.4e-317, 1.4e-317}, Spectrum{5e-324}}) {
    const Spectrum s = normalised_spectrum(input);
    double sum = 0;
    for (double v : s) sum += v * v;
    EXPECT_NEAR(sum, 1.0, 1e-15) << input[0];
  }
  // Rescaling to the same rank is the identity; to another rank it interpolates in i/r.
  EXPECT_EQ(rescale_spectrum(n, 2), n);
  const Spectrum up = rescale_spectrum(normalised_spectrum({4, 2}), 4);
  // Target cell centres 1/8, 3/8, 5/8, 7/8 sit at source positions -1/4, 1/4, 3/4, 5/4 (source
  // centres at 0 and 1): clamped 4, then 3.5, 2.5, clamped 2.
  const double norm = std::sqrt(16.0 + 12.25 + 6.25 + 4.0);
  EXPECT_NEAR(up[0], 4 / norm, 1e-15);
  EXPECT_NEAR(up[1], 3.5 / norm, 1e-15);
  EXPECT_NEAR(up[2], 2.5 / norm, 1e-15);
  EXPECT_NEAR(up[3], 2 / norm, 1e-15);
  const Spectrum flat = rescale_spectrum({1.0}, 4);  // one value: a flat spectrum
  EXPECT_EQ(flat, Spectrum(4, 0.5));
  EXPECT_THROW(rescale_spectrum({}, 4), Error);
  EXPECT_THROW(rescale_spectrum(n, 0), Error);
}

TEST(Mixture, ParseWeightsAndSampling) {
  const SpectrumMixture m =
      SpectrumMixture::parse("power-law*3:alpha_min=0,alpha_max=0,decay-floor");
  ASSERT_EQ(m.components().size(), 2u);
  EXPECT_EQ(m.components()[0].second, 3.0);
  EXPECT_EQ(m.components()[0].first->params().at("alpha_max"), 0.0);
  EXPECT_NE(m.describe().find("decay-floor"), std::string::npos);
  // alpha = 0 gives a flat spectrum, so each sample reveals its component: expect ~3/4 flat.
  const auto samples = m.sample_many({32, 64}, 9, 800);
  int64_t flat = 0;
  for (const Spectrum& s : samples) flat += s.front() == s.back() ? 1 : 0;
  EXPECT_NEAR(double(flat) / 800.0, 0.75, 0.05);        // binomial sd = 0.015: 3.3 sd
  EXPECT_EQ(samples[123], m.sample({32, 64}, 9, 123));  // each sample regenerates on its own
  const auto other_seed = m.sample_many({32, 64}, 10, 20);
  EXPECT_NE(std::vector<Spectrum>(samples.begin(), samples.begin() + 20), other_seed);
  for (const char* bad : {"", "power-law*0", "power-law*x", "alpha_min=1,power-law", "nope"})
    EXPECT_THROW(SpectrumMixture::parse(bad), Error) << bad;
}

}  // namespace
}  // namespace rootopt
