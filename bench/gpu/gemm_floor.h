// The GEMM floor of a step: the same 3 K GEMMs per group as the CUDA backend (A = X X^T,
// P = c A A + b A, X' = a X + P X), bf16 in / fp32 accumulate, through plain cuBLAS
// (cublasGemmStridedBatchedEx with the default algorithm) and nothing else: no elementwise work.
#pragma once

#include <cublas_v2.h>

#include "bench_buffers.h"
#include "newton_schulz_plan.h"
#include "rootopt/schedule.h"

namespace rootopt::bench {

class GemmFloor {
 public:
  explicit GemmFloor(const BenchShape& shape);
  ~GemmFloor();
  GemmFloor(const GemmFloor&) = delete;
  GemmFloor& operator=(const GemmFloor&) = delete;
  // Returns the buffer holding X_K (x() or its ping-pong partner).
  void* run(const Schedule& schedule, cudaStream_t stream);
  void* x() const { return x_.get(); }  // bf16 X0 / X_K buffer (batch * rows * cols)
  // The same buffers for the backend's own cuBLASLt plan of the Frobenius standard form (to time
  // its GEMMs alone; that form needs no other buffer).
  cuda::PlanBuffers buffers(void* workspace, size_t workspace_bytes) const {
    cuda::PlanBuffers b;
    b.x = x_.get();
    b.x_other = x_other_.get();
    b.gram = gram_.get();
    b.poly = poly_.get();
    b.workspace = {workspace, workspace_bytes};
    return b;
  }

 private:
  BenchShape shape_;
  cublasHandle_t handle_ = nullptr;
  cuda::DeviceBuffer x_, x_other_, gram_, poly_;
};

}  // namespace rootopt::bench
