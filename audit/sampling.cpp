// Seeds and proxy shapes of the audit's sampled spectra and matrices.
#include <algorithm>
#include <cmath>

#include "check.h"
#include "rootopt/audit.h"
#include "seeding.h"

namespace rootopt {

uint64_t audit::mix_seed(uint64_t x) {
  x += 0x9e3779b97f4a7c15ull;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
  return x ^ (x >> 31);
}

uint64_t audit_shape_seed(uint64_t seed, Shape key) {
  using audit::mix_seed;
  return mix_seed(mix_seed(mix_seed(seed) ^ uint64_t(key.rows)) ^ uint64_t(key.cols));
}

Shape audit_proxy_shape(Shape key, int64_t proxy_rank) {
  ROOTOPT_CHECK(proxy_rank >= 2, "proxy rank must be >= 2, got ", proxy_rank);
  key = key.canonical();
  if (key.rows <= proxy_rank) return key;
  const double aspect = double(key.cols) / double(key.rows);
  return {proxy_rank, std::max<int64_t>(proxy_rank, std::llround(double(proxy_rank) * aspect))};
}

}  // namespace rootopt
