// Element access for parameters and gradients stored as fp32 or bf16 (CPU backend). bf16 values
// are computed on in fp32 and stored back rounded to nearest even (rootopt/bf16.h).
#pragma once

#include <cstdint>

#include "rootopt/bf16.h"
#include "rootopt/optimizer.h"

namespace rootopt::detail::cpu {

inline float load_element(const void* data, DType dtype, int64_t i) {
  if (dtype == DType::fp32) return static_cast<const float*>(data)[i];
  return bf16_bits_to_float(static_cast<const uint16_t*>(data)[i]);
}

inline void store_element(void* data, DType dtype, int64_t i, float value) {
  if (dtype == DType::fp32) {
    static_cast<float*>(data)[i] = value;
  } else {
    static_cast<uint16_t*>(data)[i] = float_to_bf16_bits(value);
  }
}

inline int64_t element_bytes(DType dtype) { return dtype == DType::fp32 ? 4 : 2; }

}  // namespace rootopt::detail::cpu
