// Seed mixing shared by the audit's sampled spectra and matrices.
#pragma once

#include <cstdint>

namespace rootopt::audit {

// splitmix64 finaliser (Steele, Lea, Flood 2014): decorrelates nearby seeds.
uint64_t mix_seed(uint64_t x);

// Seed of the random orthogonal factors of matrix `index` of a shape whose spectra use
// `shape_seed` (distinct from the spectra's own seed stream).
inline uint64_t matrix_seed(uint64_t shape_seed, int64_t index) {
  return mix_seed(shape_seed ^ mix_seed(0x6d61747269780000ull + uint64_t(index)));
}

}  // namespace rootopt::audit
