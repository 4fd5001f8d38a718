// Seed of the audit's random matrices, derived with core's SplitMix64 (seeding.h).
#pragma once

#include <cstdint>

#include "seeding.h"

namespace rootopt::audit {

// Seed of the random orthogonal factors of matrix `index` of a shape whose spectra use
// `shape_seed` (distinct from the spectra's own seed stream).
inline uint64_t matrix_seed(uint64_t shape_seed, int64_t index) {
  using detail::splitmix64;
  return splitmix64(shape_seed ^ splitmix64(0x6d61747269780000ull + uint64_t(index)));
}

}  // namespace rootopt::audit
