// TF32 rounding against an independent reference: the two TF32 neighbours of x (fp32 bit
// patterns with the low 13 mantissa bits zero), compared in fp64 arithmetic, ties to the even
// one. Every upper-19-bit pattern with the lower bits that matter, plus random floats.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <limits>
#include <random>

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

// Reference rounding of a finite fp32 to TF32 (as fp32 bits): truncation toward zero and the
// next TF32 magnitude up (2^128 past the largest finite one); the nearer, ties to even.
uint32_t reference_round(uint32_t bits) {
  const uint32_t low = bits & ~uint32_t(0x1fffu);
  const uint32_t high = low + 0x2000u;
  const double x = std::abs(double(from_bits(bits)));
  const double lo = std::abs(double(from_bits(low)));
  const double hi = (high & 0x7f800000u) == 0x7f800000u ? std::ldexp(1.0, 128)
                                                        : std::abs(double(from_bits(high)));
  if (x - lo < hi - x) return low;
  if (x - lo > hi - x) return high;
  return (low & 0x2000u) ? high : low;
}

TEST(Tf32, MatchesReferenceOnAllExponentsAndTieCases) {
  int64_t checked = 0, ties = 0;
  for (uint32_t top = 0; top < (1u << 19); ++top) {
    if (((top << 13) & 0x7f800000u) == 0x7f800000u) continue;  // Inf/NaN: separate test
    for (uint32_t lower : {0x0000u, 0x0001u, 0x0fffu, 0x1000u, 0x1001u, 0x1fffu}) {
      const uint32_t bits = (top << 13) | lower;
      ASSERT_EQ(to_bits(round_to_tf32(from_bits(bits))), reference_round(bits))
          << std::hex << "bits 0x" << bits;
      ++checked;
      ties += lower == 0x1000u;
    }
  }
  EXPECT_GT(checked, 3000000);
  EXPECT_GT(ties, 500000);
}

TEST(Tf32, RandomFloats) {
  std::mt19937 rng(15);
  for (int i = 0; i < 1000000; ++i) {
    const uint32_t bits = rng();
    if ((bits & 0x7f800000u) == 0x7f800000u) continue;
    ASSERT_EQ(to_bits(round_to_tf32(from_bits(bits))), reference_round(bits)) << std::hex << bits;
  }
}

TEST(Tf32, SpecialValuesAndRelativeError) {
  const float inf = std::numeric_limits<float>::infinity();
  EXPECT_EQ(round_to_tf32(inf), inf);
  EXPECT_EQ(round_to_tf32(-inf), -inf);
  EXPECT_TRUE(std::isnan(round_to_tf32(std::numeric_limits<float>::quiet_NaN())));
  EXPECT_TRUE(std::isnan(round_to_tf32(from_bits(0x7f800001u))));  // signalling NaN stays NaN
  EXPECT_EQ(round_to_tf32(std::numeric_limits<float>::max()), inf);
  EXPECT_EQ(round_to_tf32(1.0f + std::ldexp(1.0f, -11)), 1.0f);  // tie: even neighbour is 1
  EXPECT_EQ(round_to_tf32(1.0f + 3 * std::ldexp(1.0f, -11)), 1.0f + std::ldexp(1.0f, -9));
  // Unit roundoff of TF32 (11 significant bits): |round(x) - x| <= 2^-11 |x| for normal x.
  std::mt19937 rng(16);
  std::uniform_real_distribution<float> u(-1e3f, 1e3f);
  for (int i = 0; i < 100000; ++i) {
    const float x = u(rng);
    EXPECT_LE(std::abs(double(round_to_tf32(x)) - x), std::ldexp(std::abs(double(x)), -11));
  }
}

}  // namespace
}  // namespace rootopt
