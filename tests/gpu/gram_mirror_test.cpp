// The mirror kernel of the split Gram product: A12 = A21^T exactly (a copy), nothing else
// touched. Sizes that are not multiples of the 32 x 32 tile, a batch, both precisions; small
// enough for compute-sanitizer (the name carries "Sanitizer" for tools/gpu-check's filter).
#include <gtest/gtest.h>

#include <random>

#include "gpu_test_support.h"
#include "step_kernels.h"

namespace rootopt::testing {
namespace {

template <typename Bits>
void check_mirror(Precision precision, int64_t small, int64_t split, int64_t batch) {
  std::mt19937_64 rng(43);
  std::uniform_int_distribution<uint32_t> bits;
  std::vector<Bits> a(static_cast<size_t>(batch * small * small));
  for (Bits& v : a) v = static_cast<Bits>(bits(rng));  // any pattern: the kernel only copies
  cuda::DeviceBuffer device(sizeof(Bits) * a.size(), "gram");
  upload(device.get(), a.data(), device.bytes());
  cuda::launch_mirror_block(device.get(), {small, split, batch}, precision, nullptr);
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
  check_mirror<uint16_t>(Precision::bf16, 100, 37, 2);
  check_mirror<uint16_t>(Precision::bf16, 256, 128, 1);
  check_mirror<uint32_t>(Precision::fp32, 70, 64, 3);
}

}  // namespace
}  // namespace rootopt::testing
