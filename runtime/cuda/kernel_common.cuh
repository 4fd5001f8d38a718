// Internal (device code only): element access and launch geometry shared by the CUDA backend's
// kernels. Keep Eigen and host-only headers out of here.
#pragma once

#include <cuda_bf16.h>
#include <cuda_runtime.h>

#include <algorithm>
#include <cstdint>
#include <cub/block/block_reduce.cuh>

#include "cuda_check.h"
#include "step_kernels.h"

namespace rootopt::cuda {

constexpr int kThreads = 256;
constexpr int64_t kItemsPerThread = 16;  // enough work per thread to amortise the block setup

using BlockSum = cub::BlockReduce<double, kThreads>;

// Blocks per matrix for a grid-stride pass over `elements` values (grid = blocks x matrices).
inline int64_t blocks_per_matrix(int64_t elements) {
  const int64_t wanted = (elements + kThreads * kItemsPerThread - 1) / (kThreads * kItemsPerThread);
  return std::clamp<int64_t>(wanted, 1, kMaxBlocksPerMatrix);
}

inline dim3 batch_grid(int64_t elements, int64_t count) {
  return dim3(static_cast<unsigned>(blocks_per_matrix(elements)), static_cast<unsigned>(count));
}
inline dim3 group_grid(const GroupView& group) { return batch_grid(group.elements, group.count); }

__device__ __forceinline__ float to_float(float x) { return x; }
__device__ __forceinline__ float to_float(__nv_bfloat16 x) { return __bfloat162float(x); }

template <typename T>
__device__ __forceinline__ T from_float(float x);
template <>
__device__ __forceinline__ float from_float<float>(float x) {
  return x;
}
template <>
__device__ __forceinline__ __nv_bfloat16 from_float<__nv_bfloat16>(float x) {
  return __float2bfloat16_rn(x);  // round to nearest even, as rootopt::round_to_bf16 on the host
}

// x rounded to TF32 (10 mantissa bits), to nearest, ties to even, as docs/recipes.md defines a
// tf32 GEMM's operands; NaN and infinities pass unchanged. Operands rounded by this are exact in
// TF32, so the tensor cores' own conversion (undocumented: PyTorch's notes say only the top 10
// mantissa bits are read, i.e. truncation) cannot change them.
__device__ __forceinline__ float round_to_tf32(float x) {
  const uint32_t bits = __float_as_uint(x);
  if ((bits & 0x7f800000u) == 0x7f800000u) return x;
  return __uint_as_float((bits + 0xfffu + ((bits >> 13) & 1u)) & 0xffffe000u);
}

// The IEEE bit pattern of |x|: for non-negative floats the unsigned order of the bits is the
// numeric order, which is what makes radix selection on floats possible.
__device__ __forceinline__ uint32_t abs_bits(float x) { return __float_as_uint(x) & 0x7fffffffu; }

// Radix digits of a 31-bit |x| pattern, most significant first: bits 30-20, 19-10, 9-0.
__device__ __forceinline__ int radix_shift(int pass) { return pass == 0 ? 20 : pass == 1 ? 10 : 0; }
__device__ __forceinline__ uint32_t radix_digit(uint32_t bits, int pass) {
  return (bits >> radix_shift(pass)) & (pass == 0 ? 0x7ffu : 0x3ffu);
}
// The bits above pass `pass`'s digit (passes 1 and 2 have 10-bit digits): an element is a
// candidate for the pass when they equal the prefix selected so far.
__device__ __forceinline__ uint32_t radix_high(uint32_t bits, int pass) {
  return pass == 0 ? 0u : bits >> (radix_shift(pass) + 10);
}

// The sum of one matrix's per-block fp64 partial sums (the first `blocks` of `partial`), added in
// the same order by every block that calls it: deterministic, no float atomics. Valid in thread 0;
// every thread of the block must call it.
__device__ __forceinline__ double sum_partials(const double* partial, unsigned blocks,
                                               BlockSum::TempStorage& scratch) {
  double s = 0;
  for (unsigned b = threadIdx.x; b < blocks; b += blockDim.x) s += partial[b];
  return BlockSum(scratch).Sum(s);
}

// Adds a block's shared-memory histogram into the global one (only non-empty bins: the values of
// |U| crowd into a few dozen exponent buckets, so this keeps global atomics few).
__device__ __forceinline__ void flush_histogram(const uint32_t* local, uint32_t* global) {
  for (int b = threadIdx.x; b < kRadixBins; b += blockDim.x)
    if (local[b]) atomicAdd(global + b, local[b]);
}

// Four consecutive elements (index quad q = elements 4q .. 4q + 3) in one aligned vector access.
__device__ __forceinline__ float4 load4(const float* p, int64_t q) {
  return reinterpret_cast<const float4*>(p)[q];
}
__device__ __forceinline__ float4 load4(const __nv_bfloat16* p, int64_t q) {
  const uint2 raw = reinterpret_cast<const uint2*>(p)[q];
  const float2 lo = __bfloat1622float2(*reinterpret_cast<const __nv_bfloat162*>(&raw.x));
  const float2 hi = __bfloat1622float2(*reinterpret_cast<const __nv_bfloat162*>(&raw.y));
  return make_float4(lo.x, lo.y, hi.x, hi.y);
}
__device__ __forceinline__ void store4(float* p, int64_t q, float4 v) {
  reinterpret_cast<float4*>(p)[q] = v;
}
__device__ __forceinline__ void store4(__nv_bfloat16* p, int64_t q, float4 v) {
  const __nv_bfloat162 lo = __floats2bfloat162_rn(v.x, v.y), hi = __floats2bfloat162_rn(v.z, v.w);
  reinterpret_cast<uint2*>(p)[q] =
      make_uint2(*reinterpret_cast<const uint32_t*>(&lo), *reinterpret_cast<const uint32_t*>(&hi));
}

// Applies a per-value function to the four lanes of a quad.
template <typename F>
__device__ __forceinline__ float4 map4(F&& f, float4 a) {
  return make_float4(f(a.x), f(a.y), f(a.z), f(a.w));
}
template <typename F>
__device__ __forceinline__ float4 map4(F&& f, float4 a, float4 b) {
  return make_float4(f(a.x, b.x), f(a.y, b.y), f(a.z, b.z), f(a.w, b.w));
}

// Grid-stride loop over one matrix's elements: f(i) for i in [0, elements).
template <typename F>
__device__ __forceinline__ void for_each_element(int64_t elements, F&& f) {
  const int64_t stride = int64_t(gridDim.x) * blockDim.x;
  for (int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; i < elements; i += stride) f(i);
}

// A matrix's elements one by one (scalar(i)) or, when `vectorized`, as aligned quads (quad(q),
// q < elements / 4): same values, a quarter of the memory instructions.
template <typename Scalar, typename Quad>
__device__ __forceinline__ void for_each_element(int64_t elements, bool vectorized, Scalar&& scalar,
                                                 Quad&& quad) {
  if (vectorized)
    for_each_element(elements / 4, quad);
  else
    for_each_element(elements, scalar);
}
template <typename Scalar, typename Quad>
__device__ __forceinline__ void for_each_element(const GroupView& group, Scalar&& scalar,
                                                 Quad&& quad) {
  for_each_element(group.elements, group.vectorized, scalar, quad);
}

}  // namespace rootopt::cuda
