// bf16 and TF32 rounding against one independent reference: the two neighbours of x in the format
// (fp32 bit patterns with the low `dropped` bits zero: 16 for bf16, 13 for TF32), compared in
// fp64 arithmetic, ties to the even one. Every pattern of the kept bits with the dropped bits that
// matter (exact, just below/at/above the tie, extremes), plus random floats, Inf/NaN and the unit
// roundoff.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <limits>
#include <random>

#include "rootopt/bf16.h"
#include "rootopt/tf32.h"

namespace rootopt {
namespace {

float from_bits(uint32_t u) {
  float x;
  std::memcpy(&x, &u, sizeof x);
  return x;
}

uint32_t to_bits(float x) {
  uint32_t u;
  std::memcpy(&u, &x, sizeof u);
  return u;
}

struct Format {
  const char* name;
  int dropped;            // low fp32 mantissa bits the format does not keep
  float (*round)(float);  // the rounding under test
};

std::ostream& operator<<(std::ostream& out, const Format& f) { return out << f.name; }

const Format kFormats[] = {{"bf16", 16, round_to_bf16}, {"tf32", 13, round_to_tf32}};

// Reference rounding of a finite fp32: truncation toward zero and the next magnitude up in the
// format (2^128 past the largest finite one); the nearer, ties to the even one.
uint32_t reference_round(uint32_t bits, int dropped) {
  const uint32_t step = 1u << dropped;
  const uint32_t low = bits & ~(step - 1);
  const uint32_t high = low + step;  // an exponent carry is correct
  const double x = std::abs(double(from_bits(bits)));
  const double lo = std::abs(double(from_bits(low)));
  const double hi = (high & 0x7f800000u) == 0x7f800000u ? std::ldexp(1.0, 128)
                                                        : std::abs(double(from_bits(high)));
  if (x - lo < hi - x) return low;
  if (x - lo > hi - x) return high;
  return (low & step) ? high : low;
}

class Rounding : public ::testing::TestWithParam<Format> {};

TEST_P(Rounding, MatchesReferenceOnAllExponentsAndTieCases) {
  const Format f = GetParam();
  const uint32_t half = 1u << (f.dropped - 1), all = (1u << f.dropped) - 1;
  int64_t checked = 0, ties = 0;
  for (uint32_t top = 0; top < (1u << (32 - f.dropped)); ++top) {
    const uint32_t kept = top << f.dropped;
    if ((kept & 0x7f800000u) == 0x7f800000u) continue;  // Inf/NaN patterns: separate test
    for (uint32_t lower : {0u, 1u, half - 1, half, half + 1, all, 0x1234u & all}) {
      const uint32_t bits = kept | lower;
      ASSERT_EQ(to_bits(f.round(from_bits(bits))), reference_round(bits, f.dropped))
          << f.name << std::hex << " bits 0x" << bits;
      ++checked;
      ties += lower == half;
    }
  }
  EXPECT_GT(checked, 6 * (int64_t(1) << (32 - f.dropped)) * 99 / 100);
  EXPECT_GT(ties, (int64_t(1) << (32 - f.dropped)) * 99 / 100);
}

TEST_P(Rounding, RandomFloats) {
  const Format f = GetParam();
  std::mt19937 rng(5);
  for (int i = 0; i < 1000000; ++i) {
    const uint32_t bits = rng();
    if ((bits & 0x7f800000u) == 0x7f800000u) continue;
    ASSERT_EQ(to_bits(f.round(from_bits(bits))), reference_round(bits, f.dropped))
        << f.name << std::hex << " bits 0x" << bits;
  }
}

TEST_P(Rounding, SpecialValuesAndRelativeError) {
  const Format f = GetParam();
  const float inf = std::numeric_limits<float>::infinity();
  EXPECT_EQ(f.round(inf), inf);
  EXPECT_EQ(f.round(-inf), -inf);
  EXPECT_TRUE(std::isnan(f.round(std::numeric_limits<float>::quiet_NaN())));
  EXPECT_TRUE(std::isnan(f.round(from_bits(0x7f800001u))));    // signalling NaN stays NaN
  EXPECT_EQ(f.round(std::numeric_limits<float>::max()), inf);  // overflows on rounding
  // Kept significant bits: 24 - dropped. A tie between 1 and 1 + 2ulp goes to the even 1; a tie
  // between 1 + ulp and 1 + 2 ulp goes up to the even one.
  const float ulp = std::ldexp(1.0f, f.dropped - 23);
  EXPECT_EQ(f.round(1.0f + ulp / 2), 1.0f);
  EXPECT_EQ(f.round(1.0f + 3 * ulp / 2), 1.0f + 2 * ulp);
  // Unit roundoff 2^-(24 - dropped): |round(x) - x| <= u |x| for normal x.
  std::mt19937 rng(6);
  std::uniform_real_distribution<float> u(-1e3f, 1e3f);
  for (int i = 0; i < 100000; ++i) {
    const float x = u(rng);
    EXPECT_LE(std::abs(double(f.round(x)) - x), std::ldexp(std::abs(double(x)), f.dropped - 24));
  }
}

INSTANTIATE_TEST_SUITE_P(Formats, Rounding, ::testing::ValuesIn(kFormats),
                         [](const ::testing::TestParamInfo<Format>& info) {
                           return std::string(info.param.name);
                         });

}  // namespace
}  // namespace rootopt
