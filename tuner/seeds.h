// Seeds derived from (run seed, shape, purpose), so every shape's fitting samples, held-out
// samples and random starts are reproducible on their own, independent of thread scheduling,
// and the held-out samples never coincide with the fitting samples' seeds.
#pragma once

#include <cstdint>

#include "rootopt/shape.h"

namespace rootopt::tuner {

enum class SeedStream : uint64_t {
  fit = 1,
  heldout = 2,
  heldout_real = 3,
  starts = 4,
  search = 5,
  matrices = 6
};

// SplitMix64 finaliser (Steele, Lea, Flood 2014) over the combined inputs.
inline uint64_t mix64(uint64_t z) {
  z += 0x9e3779b97f4a7c15ull;
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

inline uint64_t derive_seed(uint64_t seed, Shape shape, SeedStream stream) {
  uint64_t z = mix64(seed);
  z = mix64(z ^ uint64_t(shape.rows));
  z = mix64(z ^ uint64_t(shape.cols));
  return mix64(z ^ uint64_t(stream));
}

}  // namespace rootopt::tuner
