// Seeds derived from (run seed, shape, purpose), so every shape's fitting samples, held-out
// samples, validation matrices and random starts are reproducible on their own, independent of
// thread scheduling, and no two purposes share a seed.
#pragma once

#include <cstdint>

#include "rootopt/shape.h"
#include "seeding.h"

namespace rootopt::tuner {

enum class SeedStream : uint64_t {
  fit = 1,
  heldout = 2,
  heldout_real = 3,
  starts = 4,
  search = 5,
  report_matrices = 6,     // matrices the chosen recipe and the built-ins are reported on
  selection_matrices = 7,  // matrices the candidate recipes are compared on
  safety_matrices = 8,     // low-rank and captured inputs every candidate must stay bounded on
};

using detail::splitmix64;

inline uint64_t derive_seed(uint64_t seed, Shape shape, SeedStream stream) {
  uint64_t z = splitmix64(seed);
  z = splitmix64(z ^ uint64_t(shape.rows));
  z = splitmix64(z ^ uint64_t(shape.cols));
  return splitmix64(z ^ uint64_t(stream));
}

}  // namespace rootopt::tuner
