// Mirror copies of the symmetric products of newton_schulz_plan.cpp, through a 32 x 33
// shared-memory tile so both the read and the write are coalesced:
//  - mirror_block_kernel: A12 = A21^T after a split product computed only the lower blocks A11,
//    A21, A22 (R2 = R R, whose diagonal blocks are symmetric up to summation order);
//  - mirror_lower_kernel: the whole strict upper triangle from the lower one, for A = X X^T and
//    R = T H ("lower triangle computed, mirrored", docs/recipes.md: exactly symmetric, whatever
//    order a GEMM sums the two triangles in).
// CPU reference: the CPU backend computes the lower triangle and mirrors it
// (runtime/cpu/newton_schulz.h); tests/gpu/gram_mirror_test.cpp checks these copies exactly.
#include "kernel_common.cuh"
#include "newton_schulz_kernels.h"

namespace rootopt::cuda {
namespace {

constexpr int kTile = 32;
constexpr int kTileRows = 8;  // threads per block: kTile x kTileRows, each copying kTile / 8

// Column-major A (small x small): A21(c, r) = A(split + c, r) is copied to A12(r, c) = A(r, split +
// c) for r < split, c < small - split.
template <typename T>
__global__ void mirror_block_kernel(T* gram, MirrorShape shape) {
  __shared__ T tile[kTile][kTile + 1];  // +1: no bank conflicts on the transposed read
  T* a = gram + int64_t(blockIdx.z) * shape.small * shape.small;
  const int64_t rest = shape.small - shape.split;
  const int64_t c0 = int64_t(blockIdx.x) * kTile, r0 = int64_t(blockIdx.y) * kTile;
  for (int j = threadIdx.y; j < kTile; j += blockDim.y) {  // read A21 rows c0.., column r0 + j
    const int64_t c = c0 + threadIdx.x, r = r0 + j;
    if (c < rest && r < shape.split) tile[j][threadIdx.x] = a[(shape.split + c) + r * shape.small];
  }
  __syncthreads();
  for (int j = threadIdx.y; j < kTile; j += blockDim.y) {  // write A12 rows r0.., column c0 + j
    const int64_t r = r0 + threadIdx.x, c = c0 + j;
    if (c < rest && r < shape.split) a[r + (shape.split + c) * shape.small] = tile[threadIdx.x][j];
  }
}

// Tile (blockIdx.y, blockIdx.x) of the lower triangle (tile row >= tile column; the blocks above
// return at once): A(j, i) = A(i, j) for every i > j in it.
template <typename T>
__global__ void mirror_lower_kernel(T* matrices, int64_t small) {
  if (blockIdx.y < blockIdx.x) return;  // the whole block: before any barrier
  __shared__ T tile[kTile][kTile + 1];
  T* a = matrices + int64_t(blockIdx.z) * small * small;
  const int64_t r0 = int64_t(blockIdx.y) * kTile, c0 = int64_t(blockIdx.x) * kTile;
  for (int j = threadIdx.y; j < kTile; j += blockDim.y) {  // read rows r0.., column c0 + j
    const int64_t r = r0 + threadIdx.x, c = c0 + j;
    if (r < small && c < small && r > c) tile[j][threadIdx.x] = a[r + c * small];
  }
  __syncthreads();
  for (int j = threadIdx.y; j < kTile; j += blockDim.y) {  // write rows c0.., column r0 + j
    const int64_t r = r0 + j, c = c0 + threadIdx.x;        // source element (r, c)
    if (r < small && c < small && r > c) a[c + r * small] = tile[threadIdx.x][j];
  }
}

}  // namespace

void launch_mirror_block(void* a, const MirrorShape& shape, Storage storage, cudaStream_t stream) {
  const int64_t rest = shape.small - shape.split;
  const dim3 grid(unsigned((rest + kTile - 1) / kTile), unsigned((shape.split + kTile - 1) / kTile),
                  unsigned(shape.batch));
  const dim3 block(kTile, kTileRows);
  if (storage == Storage::bf16)
    mirror_block_kernel<<<grid, block, 0, stream>>>(static_cast<__nv_bfloat16*>(a), shape);
  else
    mirror_block_kernel<<<grid, block, 0, stream>>>(static_cast<float*>(a), shape);
  ROOTOPT_CUDA_CHECK_LAUNCH("mirror_block_kernel on ", shape.batch, " matrices of ", shape.small,
                            "^2");
}

void launch_mirror_lower(void* a, const SquareBatch& batch, Storage storage, cudaStream_t stream) {
  const auto tiles = unsigned((batch.small + kTile - 1) / kTile);
  const dim3 grid(tiles, tiles, unsigned(batch.count)), block(kTile, kTileRows);
  if (storage == Storage::bf16)
    mirror_lower_kernel<<<grid, block, 0, stream>>>(static_cast<__nv_bfloat16*>(a), batch.small);
  else
    mirror_lower_kernel<<<grid, block, 0, stream>>>(static_cast<float*>(a), batch.small);
  ROOTOPT_CUDA_CHECK_LAUNCH("mirror_lower_kernel on ", batch.count, " matrices of ", batch.small,
                            "^2");
}

}  // namespace rootopt::cuda
