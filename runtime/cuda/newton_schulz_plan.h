// Internal: the Newton-Schulz GEMMs of one group on cuBLASLt, planned once at registration.
// Per step k (ROOT paper arXiv 2511.20626, quintic NS; coefficients from the shape's schedule):
//   A   = X X^T                      computed once and used twice below; for min(m, n) >= 2048
//                                    only its lower blocks A11, A21, A22 (3 GEMMs, 3/4 of the
//                                    flops) and A12 = A21^T by a mirror kernel (A is symmetric)
//   P   = c_k A A + b_k A            one GEMM: A enters again as the "C" operand with beta = b_k
//   X'  = a_k X + P X                one GEMM: X enters as "C" with beta = a_k, written to X'
// so no elementwise kernel between the GEMMs. Operands are bf16 (or fp32),
// accumulation fp32 (CUBLAS_COMPUTE_32F; no TF32 in fp32 mode). Matrices are row-major m x n,
// i.e. column-major n x m for cuBLAS; tall matrices (m > n) use the transposed products
// (A = D D^T, X' = a X + P X on the column-major view) instead of a physical transpose, so the
// Gram matrix is always min(m, n)^2. Same-shape matrices run as one strided batch.
#pragma once

#include <cublasLt.h>

#include <cstdint>
#include <memory>
#include <vector>

#include "cuda_handle.h"
#include "rootopt/precision.h"
#include "rootopt/schedule.h"

namespace rootopt::cuda {

// RAII cuBLASLt handle. Creating one needs a device: callers check cuda_device_present() first.
class LtHandle {
 public:
  LtHandle();
  cublasLtHandle_t get() const { return handle_.get(); }

 private:
  CudaHandle<cublasLtHandle_t, cublasLtDestroy> handle_;
};

struct PlanShape {
  int64_t rows = 0, cols = 0;  // of each matrix, row-major as registered
  int64_t batch = 1;           // matrices in the group
  int64_t small() const { return rows < cols ? rows : cols; }
};

// The three pointers a step works on; x and x_other hold count * rows * cols elements,
// gram and poly count * small()^2, all in the plan's precision.
struct PlanBuffers {
  void* x = nullptr;        // X0 on entry
  void* x_other = nullptr;  // ping-pong partner
  void* gram = nullptr;
  void* poly = nullptr;
  void* workspace = nullptr;  // cuBLASLt workspace
  size_t workspace_bytes = 0;
};

class NewtonSchulzPlan {
 public:
  NewtonSchulzPlan(const LtHandle& lt, PlanShape shape, Precision precision,
                   size_t workspace_bytes);
  ~NewtonSchulzPlan();
  NewtonSchulzPlan(const NewtonSchulzPlan&) = delete;
  NewtonSchulzPlan& operator=(const NewtonSchulzPlan&) = delete;

  // Enqueues the schedule's GEMMs; returns the buffer holding X_K (x or x_other).
  void* run(const Schedule& schedule, const PlanBuffers& buffers, cudaStream_t stream) const;
  Precision precision() const { return precision_; }

 private:
  struct Gemm;
  static int64_t gram_split(int64_t small);  // rows of the A11 block, 0: no split
  void gram(const void* x, const PlanBuffers& buffers, cudaStream_t stream) const;
  cublasLtHandle_t lt_;
  PlanShape shape_;
  Precision precision_;
  int64_t split_ = 0;
  std::vector<std::unique_ptr<Gemm>> gram_;  // the whole A, or its blocks A11, A21, A22
  std::unique_ptr<Gemm> poly_, update_;
};

}  // namespace rootopt::cuda
