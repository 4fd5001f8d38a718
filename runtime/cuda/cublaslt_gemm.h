// Internal: cuBLASLt matmuls planned once (at registration) and enqueued many times, for the
// Newton-Schulz plans (newton_schulz_plan.cpp). A GEMM's types follow its step's precision
// (docs/recipes.md): bf16 steps take bf16 operands, accumulate in fp32 (CUBLAS_COMPUTE_32F) and
// round D to bf16 once; tf32 steps take fp32 operands in CUBLAS_COMPUTE_32F_FAST_TF32; fp32 steps
// are fp32 throughout (CUBLAS_COMPUTE_32F). An "fp32 out" GEMM keeps D in fp32 whatever the step.
#pragma once

#include <cublasLt.h>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "cuda_handle.h"
#include "group_view.h"
#include "rootopt/precision.h"

namespace rootopt::cuda {

// RAII cuBLASLt handle. Creating one needs a device: callers check cuda_device_present() first.
class LtHandle {
 public:
  LtHandle();
  cublasLtHandle_t get() const { return handle_.get(); }

 private:
  CudaHandle<cublasLtHandle_t, cublasLtDestroy> handle_;
};

// cuBLASLt's scratch memory, shared by every GEMM of an optimizer (so concurrent steps of one
// optimizer on different streams are not supported).
struct LtWorkspace {
  void* data = nullptr;
  size_t bytes = 0;
};

// A column-major rows x cols matrix with leading dimension ld, `batch` of them `stride` elements
// apart (a block of a larger matrix has the ld and stride of the whole one).
struct Dims {
  int64_t rows, cols, ld, stride;
};
inline Dims whole(int64_t rows, int64_t cols) { return {rows, cols, rows, rows * cols}; }

struct GemmTypes {
  Precision precision = Precision::bf16;  // of the step: bf16, tf32 or fp32
  bool fp32_result = false;               // "fp32 out": D (and C) fp32 whatever the step
  Storage operands() const { return storage_of(precision); }
  Storage result() const { return fp32_result ? Storage::fp32 : operands(); }
};

// D = alpha op(A) op(B) + beta C, C and D sharing one layout, strided-batched; the algorithm is
// chosen once by cuBLASLt's heuristic for the exact shapes, types, batch and workspace size.
class LtGemm {
 public:
  LtGemm(cublasLtHandle_t lt, cublasOperation_t op_a, Dims a, cublasOperation_t op_b, Dims b,
         Dims cd, int64_t batch, GemmTypes types, size_t workspace_bytes, std::string what);
  void operator()(float alpha, const void* a, const void* b, float beta, const void* c, void* d,
                  const LtWorkspace& workspace, cudaStream_t stream) const;

 private:
  using MatmulDesc = CudaHandle<cublasLtMatmulDesc_t, cublasLtMatmulDescDestroy>;
  using MatrixLayout = CudaHandle<cublasLtMatrixLayout_t, cublasLtMatrixLayoutDestroy>;
  cublasLtHandle_t lt_;
  MatmulDesc desc_;
  MatrixLayout a_, b_, cd_;
  cublasLtMatmulAlgo_t algo_{};
  std::string what_;
};

// A symmetric small x small result D = L M (alpha 1, beta 0) of `batch` matrices: one GEMM, or,
// with a split s1 > 0, only its lower blocks D11 (s1 x s1), D21 and D22, 3/4 of the flops (cuBLAS
// has no bf16 SYRK), followed by a mirror copy of the missing upper part.
class SymmetricProduct {
 public:
  // What the mirror copies: `lower`, the whole strict upper triangle from the lower one: "lower
  // triangle computed, mirrored" (docs/recipes.md), so D is exactly symmetric whatever order
  // the GEMMs sum in (cuBLASLt may split K differently for an element and its mirror); `block`,
  // D12 = D21^T only, for a product the contract does not need exactly symmetric (R R, which
  // only enters H elementwise; its diagonal blocks are symmetric up to summation order). With
  // no split, `block` copies nothing.
  enum class Mirror { block, lower };

  // D = X X^T of the registered rows x cols matrices (row-major; column-major view n x m), the
  // small side's Gram matrix: A = D^T D when wide, D D^T when tall (operand transposes, never a
  // copy), mirrored `lower`. `where` ends the GEMMs' names in error messages (" of 4 x 300x700
  // in bf16").
  static SymmetricProduct gram(cublasLtHandle_t lt, int64_t rows, int64_t cols, int64_t batch,
                               int64_t split, GemmTypes types, size_t workspace_bytes,
                               const std::string& where);
  // D = L M of small x small matrices (column-major, small^2 apart); `what` names it.
  static SymmetricProduct square(cublasLtHandle_t lt, int64_t small, int64_t batch, int64_t split,
                                 Mirror mirror, GemmTypes types, size_t workspace_bytes,
                                 const std::string& what);

  void operator()(const void* left, const void* right, void* out, const LtWorkspace& workspace,
                  cudaStream_t stream) const;

 private:
  struct Block {
    std::unique_ptr<LtGemm> gemm;
    int64_t left, right, out;  // element offsets of the block's operands and result
  };
  SymmetricProduct(int64_t small, int64_t batch, int64_t split, Mirror mirror, GemmTypes types)
      : small_(small), batch_(batch), split_(split), mirror_(mirror), types_(types) {}
  int64_t small_, batch_, split_;
  Mirror mirror_;
  GemmTypes types_;
  std::vector<Block> blocks_;
};

}  // namespace rootopt::cuda
