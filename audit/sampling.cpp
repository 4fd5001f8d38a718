// Seeds of the audit's sampled spectra.
#include "rootopt/audit.h"
#include "seeding.h"

namespace rootopt {

uint64_t audit_shape_seed(uint64_t seed, Shape key) {
  using detail::splitmix64;
  return splitmix64(splitmix64(splitmix64(seed) ^ uint64_t(key.rows)) ^ uint64_t(key.cols));
}

}  // namespace rootopt
