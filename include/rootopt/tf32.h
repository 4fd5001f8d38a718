// TF32 rounding on the host: an IEEE fp32 rounded to 10 explicit mantissa bits (TF32's 1 + 8 +
// 10 bits, fp32's exponent range), to nearest even, kept in an fp32. This is how the emulation and
// the CPU backend model a tensor-core GEMM in TF32 mode: its operands are rounded on entry,
// accumulation and output stay fp32 (docs/recipes.md, "Precision of a step").
#pragma once

#include <cstdint>
#include <cstring>

namespace rootopt {

inline float round_to_tf32(float x) {
  uint32_t u;
  std::memcpy(&u, &x, sizeof u);
  if ((u & 0x7f800000u) == 0x7f800000u) {
    if (u & 0x007fffffu) u |= 0x00400000u;  // NaN stays NaN (quiet), whatever its payload
  } else {
    u += 0x0fffu + ((u >> 13) & 1u);  // round to nearest, ties to even; may carry into Inf
    u &= ~uint32_t(0x1fffu);
  }
  float y;
  std::memcpy(&y, &u, sizeof y);
  return y;
}

}  // namespace rootopt
