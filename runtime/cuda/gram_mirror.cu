// A12 = A21^T for the split Gram product (newton_schulz_plan.cpp): A = X X^T is symmetric, so
// only its lower blocks are computed by GEMMs and the upper-right block is this transpose copy,
// through a 32 x 33 shared-memory tile so both the read and the write are coalesced.
// CPU reference: none needed; the CPU backend computes the whole A (cpu/newton_schulz.cpp), and
// the GPU tests compare the full steps.
#include "kernel_common.cuh"

namespace rootopt::cuda {
namespace {

constexpr int kTile = 32;

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

}  // namespace

void launch_mirror_block(void* gram, const MirrorShape& shape, Precision precision,
                         cudaStream_t stream) {
  const int64_t rest = shape.small - shape.split;
  const dim3 grid(unsigned((rest + kTile - 1) / kTile), unsigned((shape.split + kTile - 1) / kTile),
                  unsigned(shape.batch));
  const dim3 block(kTile, 8);
  if (precision == Precision::bf16)
    mirror_block_kernel<<<grid, block, 0, stream>>>(static_cast<__nv_bfloat16*>(gram), shape);
  else
    mirror_block_kernel<<<grid, block, 0, stream>>>(static_cast<float*>(gram), shape);
  ROOTOPT_CUDA_CHECK_LAUNCH("mirror_block_kernel on ", shape.batch, " matrices of ", shape.small,
                            "^2");
}

}  // namespace rootopt::cuda
