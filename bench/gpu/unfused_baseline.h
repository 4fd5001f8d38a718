// The unfused baseline the fused CUDA step is compared with: what a straightforward port of the
// ROOT reference (PyTorch ops) does per parameter: separate kernels for momentum, Nesterov,
// |U|, clamp, square, normalise, weight decay and update, and the quantile by a full device sort
// (cub::DeviceRadixSort, as torch.quantile / kthvalue sort) of |U|, then the same GEMMs through
// plain cuBLAS (GemmFloor). It keeps everything on the device (no host round trip), so it is a
// fair, not a strawman, baseline; it does no non-finite check (the fused step does).
#pragma once

#include <cstdint>

#include "bench_buffers.h"
#include "gemm_floor.h"

namespace rootopt::bench {

struct DeviceParams {  // the group's parameters, gradients and momentum (batch * rows * cols)
  void* param = nullptr;
  const void* grad = nullptr;
  float* momentum = nullptr;
};

class UnfusedBaseline {
 public:
  // Uses `gemms` (shared with the floor measurement, to save memory) for its Newton-Schulz.
  UnfusedBaseline(const BenchShape& shape, DeviceParams params, GemmFloor& gemms);
  void run(const Schedule& schedule, float quantile, cudaStream_t stream);

 private:
  BenchShape shape_;
  DeviceParams params_;
  GemmFloor& gemms_;
  cuda::DeviceBuffer u_, abs_, sorted_, sort_temp_, sum_, sum_temp_, eps_;
};

// Fills n bf16 values with a deterministic pseudo-random pattern uniform in [-scale, scale]
// (benchmark inputs: never time on zeros).
void fill_random_bf16(void* data, int64_t n, float scale, uint32_t seed, cudaStream_t stream);
void fill_random_fp32(float* data, int64_t n, float scale, uint32_t seed, cudaStream_t stream);

}  // namespace rootopt::bench
