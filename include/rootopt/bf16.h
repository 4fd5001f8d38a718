// bfloat16 rounding on the host: the top 16 bits of an IEEE fp32, rounded to nearest even.
// Used by the CPU emulation of tensor-core arithmetic and by the CPU runtime backend.
#pragma once

#include <cstdint>
#include <cstring>

namespace rootopt {

inline uint16_t float_to_bf16_bits(float x) {
  uint32_t u;
  std::memcpy(&u, &x, sizeof u);
  if ((u & 0x7f800000u) == 0x7f800000u && (u & 0x007fffffu)) return uint16_t((u >> 16) | 0x40u);
  u += 0x7fffu + ((u >> 16) & 1u);  // round to nearest, ties to even
  return uint16_t(u >> 16);
}

inline float bf16_bits_to_float(uint16_t h) {
  uint32_t u = uint32_t(h) << 16;
  float x;
  std::memcpy(&x, &u, sizeof x);
  return x;
}

inline float round_to_bf16(float x) { return bf16_bits_to_float(float_to_bf16_bits(x)); }

}  // namespace rootopt
