// The mirror kernels of the symmetric products: A12 = A21^T (block) and the whole upper triangle
// from the lower one (lower), exactly (copies), nothing else touched. Sizes that are not multiples
// of the 32 x 32 tile, a batch, both storages; small enough for compute-sanitizer (the names carry
// "Sanitizer" for tools/gpu-check's filter).
#include <gtest/gtest.h>

#include <random>

#include "gpu_test_support.h"
#include "newton_schulz_kernels.h"

namespace rootopt::testing {
namespace {

template <typename Bits>
std::vector<Bits> random_bits(size_t count) {
  std::mt19937_64 rng(43);
  std::uniform_int_distribution<uint32_t> bits;
  std::vector<Bits> a(count);
  for (Bits& v : a) v = static_cast<Bits>(bits(rng));  // any pattern: the kernels only copy
  return a;
}

template <typename Bits>
void check_mirror(cuda::Storage storage, int64_t small, int64_t split, int64_t batch) {
  const std::vector<Bits> a = random_bits<Bits>(static_cast<size_t>(batch * small * small));
  cuda::DeviceBuffer device(sizeof(Bits) * a.size(), "gram");
  upload(device.get(), a.data(), device.bytes());
  cuda::launch_mirror_block(device.get(), {small, split, batch}, storage, nullptr);
  std::vector<Bits> got(a.size());
  ROOTOPT_CUDA_CHECK(cudaMemcpy(got.data(), device.get(), device.bytes(), cudaMemcpyDeviceToHost),
                     "test");
  std::vector<Bits> expected = a;
  for (int64_t m = 0; m < batch; ++m) {
    Bits* e = expected.data() + m * small * small;
    for (int64_t r = 0; r < split; ++r)  // column-major: A(r, c) = e[r + c small]
      for (int64_t c = split; c < small; ++c) e[r + c * small] = e[c + r * small];
  }
  EXPECT_EQ(got, expected) << small << " split " << split;
  EXPECT_NE(got, a);  // something was written
}

TEST(GramMirror, SanitizerCopiesLowerBlockExactly) {
  ROOTOPT_REQUIRE_CUDA();
  check_mirror<uint16_t>(cuda::Storage::bf16, 100, 37, 2);
  check_mirror<uint16_t>(cuda::Storage::bf16, 256, 128, 1);
  check_mirror<uint32_t>(cuda::Storage::fp32, 70, 64, 3);
}

template <typename Bits>
void check_mirror_lower(cuda::Storage storage, int64_t small, int64_t batch) {
  const std::vector<Bits> a = random_bits<Bits>(static_cast<size_t>(batch * small * small));
  cuda::DeviceBuffer device(sizeof(Bits) * a.size(), "matrices");
  upload(device.get(), a.data(), device.bytes());
  cuda::launch_mirror_lower(device.get(), {small, batch}, storage, nullptr);
  std::vector<Bits> got(a.size());
  ROOTOPT_CUDA_CHECK(cudaMemcpy(got.data(), device.get(), device.bytes(), cudaMemcpyDeviceToHost),
                     "test");
  std::vector<Bits> expected = a;
  for (int64_t m = 0; m < batch; ++m) {
    Bits* e = expected.data() + m * small * small;
    for (int64_t c = 0; c < small; ++c)  // column-major: A(r, c) = e[r + c small]
      for (int64_t r = 0; r < c; ++r) e[r + c * small] = e[c + r * small];
  }
  EXPECT_EQ(got, expected) << small;
}

TEST(GramMirror, SanitizerCopiesLowerTriangleExactly) {
  ROOTOPT_REQUIRE_CUDA();
  check_mirror_lower<uint16_t>(cuda::Storage::bf16, 100, 2);  // tiles cut by the edge
  check_mirror_lower<uint16_t>(cuda::Storage::bf16, 64, 1);   // whole tiles
  check_mirror_lower<uint32_t>(cuda::Storage::fp32, 33, 3);
  check_mirror_lower<uint32_t>(cuda::Storage::fp32, 1, 1);
}

}  // namespace
}  // namespace rootopt::testing
