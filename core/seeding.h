// Internal: deterministic seed derivation, so sample i of a mixture (or any sub-stream) can be
// regenerated on its own from (seed, i).
#pragma once

#include <cstdint>

namespace rootopt::detail {

// SplitMix64 finaliser (Steele, Lea, Flood 2014): a bijective avalanche mix of 64 bits.
inline uint64_t splitmix64(uint64_t x) {
  x += 0x9e3779b97f4a7c15ull;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
  return x ^ (x >> 31);
}

// Seed of sub-stream `index` of `seed`.
inline uint64_t derive_seed(uint64_t seed, uint64_t index) {
  return splitmix64(splitmix64(seed) ^ splitmix64(index + 0x632be59bd9b4e019ull));
}

}  // namespace rootopt::detail
