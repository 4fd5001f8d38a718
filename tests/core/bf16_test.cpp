// bf16 rounding against an independent reference: the two bf16 neighbours of x, compared in
// fp64 arithmetic, ties to the even one. Every upper-16-bit pattern with the lower halves that
// matter (exact, just below/at/above the tie, extremes), plus random floats.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <limits>
#include <random>

#include "rootopt/bf16.h"

namespace rootopt {
namespace {

float from_bits(uint32_t u) {
  float x;
  std::memcpy(&x, &u, sizeof x);
  return x;
}

// Reference rounding of a finite fp32 to bf16 bits: candidates are the truncation toward zero
// and the next bf16 away from zero (which may be infinity); pick the nearer, ties to even.
uint16_t reference_round(uint32_t bits) {
  const uint32_t low = bits & 0xffff0000u;
  const uint32_t high = low + 0x10000u;  // next magnitude up (exponent carry is correct)
  const double x = std::abs(double(from_bits(bits)));
  const double lo = std::abs(double(from_bits(low)));
  // The value past the largest finite bf16 rounds as if the exponent range continued: 2^128.
  const double hi = (high & 0x7f800000u) == 0x7f800000u ? std::ldexp(1.0, 128)
                                                        : std::abs(double(from_bits(high)));
  if (x - lo < hi - x) return uint16_t(low >> 16);
  if (x - lo > hi - x) return uint16_t(high >> 16);
  return ((low >> 16) & 1u) ? uint16_t(high >> 16) : uint16_t(low >> 16);
}

TEST(Bf16, MatchesReferenceOnAllExponentsAndTieCases) {
  int64_t checked = 0, ties = 0;
  for (uint32_t top = 0; top < 0x10000u; ++top) {
    if ((top & 0x7f80u) == 0x7f80u) continue;  // Inf/NaN patterns: separate test
    for (uint32_t lower : {0x0000u, 0x0001u, 0x7fffu, 0x8000u, 0x8001u, 0xffffu, 0x1234u}) {
      const uint32_t bits = (top << 16) | lower;
      ASSERT_EQ(float_to_bf16_bits(from_bits(bits)), reference_round(bits))
          << std::hex << "bits 0x" << bits;
      ++checked;
      ties += lower == 0x8000u;
    }
  }
  EXPECT_GT(checked, 400000);
  EXPECT_GT(ties, 60000);
}

TEST(Bf16, RandomFloats) {
  std::mt19937 rng(5);
  for (int i = 0; i < 1000000; ++i) {
    const uint32_t bits = rng();
    if ((bits & 0x7f800000u) == 0x7f800000u) continue;
    ASSERT_EQ(float_to_bf16_bits(from_bits(bits)), reference_round(bits)) << std::hex << bits;
  }
}

TEST(Bf16, SpecialValuesAndRelativeError) {
  const float inf = std::numeric_limits<float>::infinity();
  EXPECT_EQ(round_to_bf16(inf), inf);
  EXPECT_EQ(round_to_bf16(-inf), -inf);
  EXPECT_TRUE(std::isnan(round_to_bf16(std::numeric_limits<float>::quiet_NaN())));
  EXPECT_TRUE(std::isnan(round_to_bf16(from_bits(0x7f800001u))));    // signalling NaN stays NaN
  EXPECT_EQ(round_to_bf16(std::numeric_limits<float>::max()), inf);  // overflows on rounding
  EXPECT_EQ(round_to_bf16(1.0f + 1.0f / 256), 1.0f);  // tie between 1 and 1+2^-7: even is 1
  EXPECT_EQ(round_to_bf16(1.0f + 3.0f / 256), 1.0f + 4.0f / 256);  // tie: rounds up to even
  // Unit roundoff of bf16 (8 significant bits): |round(x) - x| <= 2^-8 |x| for normal x.
  std::mt19937 rng(6);
  std::uniform_real_distribution<float> u(-1e3f, 1e3f);
  for (int i = 0; i < 100000; ++i) {
    const float x = u(rng);
    EXPECT_LE(std::abs(double(round_to_bf16(x)) - x), std::ldexp(std::abs(double(x)), -8));
  }
}

}  // namespace
}  // namespace rootopt
