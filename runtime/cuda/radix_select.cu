// The soft-threshold eps = quantile_q(|U|) on the GPU by radix selection, not a sort (ROOT's
// reference uses torch.kthvalue, which its own comment calls unoptimised for GPUs). The 31-bit
// pattern of |U| is resolved 11 + 10 + 10 bits at a time: each pass histograms the next digit of
// the elements whose higher bits equal the prefix found so far, then one block per matrix walks
// the histogram to the bucket holding the wanted rank. Both order statistics that torch.quantile
// interpolates between (ranks floor and ceil of q (n - 1)) are selected in the same passes.
// The first pass is fused into momentum_stats_kernel (step_kernels.cu), so this reads U twice.
// CPU reference: abs_quantile in runtime/cpu/soft_threshold.cpp (std::nth_element).
#include <cub/block/block_scan.cuh>

#include "kernel_common.cuh"

namespace rootopt::cuda {
namespace {

__device__ __forceinline__ uint32_t* pass_histogram(uint32_t* hist, int64_t matrix, int pass,
                                                    int target) {
  return hist + (matrix * kRadixPasses + pass) * 2 * kRadixBins + target * kRadixBins;
}

// ---- device math (CPU reference: abs_quantile in runtime/cpu/soft_threshold.cpp) ----
// torch.quantile's linear interpolation, in fp64 from the two fp32 order statistics.
__device__ __forceinline__ float interpolate(float lo, float hi, double frac) {
  const double below = lo, above = hi;
  return static_cast<float>(__dadd_rn(below, __dmul_rn(frac, __dsub_rn(above, below))));
}

// ---- kernels ----
// Histogram of digit `pass` among the elements matching each target's prefix. When both targets
// share a prefix (the common case) one histogram serves both.
__global__ void radix_histogram_kernel(GroupView group, const float* u, const ThresholdState* state,
                                       uint32_t* hist, int pass) {
  __shared__ uint32_t local[2][kRadixBins];
  for (int b = threadIdx.x; b < 2 * kRadixBins; b += blockDim.x)
    local[b / kRadixBins][b % kRadixBins] = 0;
  __syncthreads();
  const uint32_t p0 = state[blockIdx.y].prefix[0], p1 = state[blockIdx.y].prefix[1];
  const float* u_matrix = u + int64_t(blockIdx.y) * group.elements;
  const auto visit = [&](float u) {
    const uint32_t bits = abs_bits(u), high = radix_high(bits, pass);
    if (high == p0)
      atomicAdd(&local[0][radix_digit(bits, pass)], 1u);
    else if (high == p1)
      atomicAdd(&local[1][radix_digit(bits, pass)], 1u);
    return 0.0f;
  };
  for_each_element(
      group, [&](int64_t i) { visit(u_matrix[i]); },
      [&](int64_t q) { map4(visit, load4(u_matrix, q)); });
  __syncthreads();
  flush_histogram(local[0], pass_histogram(hist, blockIdx.y, pass, 0));
  if (p0 != p1) flush_histogram(local[1], pass_histogram(hist, blockIdx.y, pass, 1));
}

constexpr int kBinsPerThread = kRadixBins / kThreads;
using BlockScan = cub::BlockScan<uint32_t, kThreads>;

// One block per matrix: for each target, the bucket of digit `pass` holding its rank; appends the
// digit to the prefix and keeps the rank inside the bucket. After the last pass the prefixes are
// the exact bit patterns of the two order statistics and eps is interpolated between them.
__global__ void radix_pick_kernel(uint32_t* hist, ThresholdState* state, int pass,
                                  QuantilePosition position) {
  __shared__ typename BlockScan::TempStorage scratch;
  __shared__ uint32_t found_digit, found_rank;
  ThresholdState& st = state[blockIdx.x];
  if (pass == 0 && threadIdx.x == 0) {
    st.prefix[0] = st.prefix[1] = 0;
    st.rank[0] = position.k_lo;
    st.rank[1] = position.k_hi;
  }
  __syncthreads();
  const bool shared_histogram = st.prefix[0] == st.prefix[1];
  for (int target = 0; target < 2; ++target) {
    const uint32_t* h = pass_histogram(hist, blockIdx.x, pass, shared_histogram ? 0 : target);
    const uint32_t rank = st.rank[target];
    uint32_t counts[kBinsPerThread], mine = 0;
    for (int j = 0; j < kBinsPerThread; ++j)
      mine += counts[j] = h[threadIdx.x * kBinsPerThread + j];
    uint32_t before = 0;
    BlockScan(scratch).ExclusiveSum(mine, before);
    if (before <= rank && rank < before + mine) {  // exactly one thread holds the rank
      uint32_t cumulative = before;
      for (int j = 0; j < kBinsPerThread; ++j) {
        if (rank < cumulative + counts[j]) {
          found_digit = threadIdx.x * kBinsPerThread + j;
          found_rank = rank - cumulative;
          break;
        }
        cumulative += counts[j];
      }
    }
    __syncthreads();
    if (threadIdx.x == 0) {
      const int width = pass == 0 ? 11 : 10;
      st.prefix[target] = (st.prefix[target] << width) | found_digit;
      st.rank[target] = found_rank;
    }
    __syncthreads();
  }
  if (pass == kRadixPasses - 1 && threadIdx.x == 0)
    st.eps =
        interpolate(__uint_as_float(st.prefix[0]), __uint_as_float(st.prefix[1]), position.frac);
}

__global__ void set_threshold_kernel(int64_t count, float eps, ThresholdState* state) {
  const int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x;
  if (i < count) state[i].eps = eps;
}

}  // namespace

void launch_radix_select(const GroupView& group, const float* u, uint32_t* hist,
                         const QuantilePosition& position, ThresholdState* state,
                         cudaStream_t stream) {
  const auto count = static_cast<unsigned>(group.count);
  for (int pass = 0; pass < kRadixPasses; ++pass) {
    if (pass > 0) {  // pass 0's histogram came from momentum_stats_kernel
      radix_histogram_kernel<<<group_grid(group), kThreads, 0, stream>>>(group, u, state, hist,
                                                                         pass);
      ROOTOPT_CUDA_CHECK_LAUNCH("radix_histogram_kernel pass ", pass, " on ", group.count,
                                " matrices");
    }
    radix_pick_kernel<<<count, kThreads, 0, stream>>>(hist, state, pass, position);
    ROOTOPT_CUDA_CHECK_LAUNCH("radix_pick_kernel pass ", pass, " on ", group.count, " matrices");
  }
}

void launch_set_threshold(int64_t count, float eps, ThresholdState* state, cudaStream_t stream) {
  const auto blocks = static_cast<unsigned>((count + kThreads - 1) / kThreads);
  set_threshold_kernel<<<blocks, kThreads, 0, stream>>>(count, eps, state);
  ROOTOPT_CUDA_CHECK_LAUNCH("set_threshold_kernel on ", count, " matrices");
}

}  // namespace rootopt::cuda
