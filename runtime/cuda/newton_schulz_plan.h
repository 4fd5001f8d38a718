// Internal: the Newton-Schulz part of the step for one group of same-shape matrices, exactly as
// its recipe prescribes (docs/recipes.md; ROOT arXiv 2511.20626 quintic NS, Gram Newton-Schulz
// of Dao AI Lab 2026), on cuBLASLt, planned once at registration per working precision:
//
// standard form, step k with (a, b, c):
//   A  = X X^T                 symmetric: for min(m, n) >= 2048 only its lower blocks A11, A21,
//                              A22 (3 GEMMs, 3/4 of the flops); the upper triangle mirrored
//   P  = c A A + b A           one GEMM: A enters again as the "C" operand with beta = b
//   X' = a X + P X             one GEMM: X enters as "C" with beta = a
// Schatten step 1 instead: A2 = A A (fp32 out), s = sum of squares of A or A2 per matrix, then
// H1 = a' I + b' A + c' A2 with alpha folded in on the device, X1 = H1 X0 (beta 0): the same
// three GEMMs.
//
// gram form: R = X0 X0^T once; per step R2 = R R (fp32 out), H = a I + b R + c R2, Q = H Q
// (Q = H while Q is I), T = H R, R = T H (lower triangle, mirrored); a restart after step k forms
// X0 = Q X0, R = X0 X0^T, Q = I; finally X_K = Q X0.
//
// Every step runs in recipe.step_precision(k, working): bf16 (bf16 storage, fp32 accumulation,
// one rounding per GEMM), tf32 (fp32 storage; GEMM operands rounded to TF32 by our kernel, then
// CUBLAS_COMPUTE_32F_FAST_TF32) or fp32 (CUBLAS_COMPUTE_32F). Matrices are row-major m x n, i.e.
// column-major n x m for cuBLAS; tall matrices (m > n) use transposed products instead of a
// physical transpose, so the Gram matrix is always min(m, n)^2. Same-shape matrices run as one
// strided batch.
#pragma once

#include <cublasLt.h>

#include <cstdint>
#include <memory>
#include <vector>

#include "cublaslt_gemm.h"
#include "group_view.h"
#include "rootopt/precision.h"
#include "rootopt/recipe.h"

namespace rootopt::cuda {

// Measured on an H100 (docs/results/gpu.md): for 1024x4096 the three smaller GEMMs and the
// mirror cost more than the saved quarter (0.31 vs 0.24 ms), for 4096-wide A they win (2.73 vs
// 2.83 ms, 6.53 vs 7.06 ms).
constexpr int64_t kSplitFrom = 2048;

struct PlanShape {
  int64_t rows = 0, cols = 0;  // of each matrix, row-major as registered
  int64_t batch = 1;           // matrices in the group
  // Symmetric products are split into lower blocks when small() >= split_from (tests lower it
  // to cover the blocked products at sizes compute-sanitizer can check).
  int64_t split_from = kSplitFrom;
  int64_t small() const { return rows < cols ? rows : cols; }
};

// The workspace a recipe needs beyond x, x_other, gram, poly and partial.
struct PlanNeeds {
  bool gram_form = false;  // h, q, q_other
  bool tf32 = false;       // rounded, and in the standard form x_rounded
};
PlanNeeds plan_needs(const Recipe& recipe, Precision working);

// The group's workspace (cuda_backend.cpp allocates it at registration), every buffer fp32-sized:
// count * rows * cols floats (x*) or count * small^2 floats (the rest).
struct PlanBuffers {
  void* x = nullptr;          // X0 on entry, in input_storage(); overwritten
  void* x_other = nullptr;    // ping-pong partner (the backend's U before X0 is formed)
  void* x_rounded = nullptr;  // tf32 steps of the standard form: X rounded to TF32
  void* gram = nullptr;       // A / R
  void* poly = nullptr;       // P, A2, R2, T
  void* rounded = nullptr;    // tf32 steps: A or R rounded to TF32
  void* h = nullptr;          // gram form: H, Q and Q's ping-pong partner
  void* q = nullptr;
  void* q_other = nullptr;
  double* partial = nullptr;  // count * kMaxBlocksPerMatrix: Schatten sums of squares
  LtWorkspace workspace;
};

// Where X_K ended up and how it is stored (that of the last step).
struct PlanResult {
  void* x = nullptr;
  Storage storage = Storage::bf16;
};

class NewtonSchulzPlan {
 public:
  // `working`: the optimizer's Newton-Schulz precision (bf16 or fp32); the recipe's tail may
  // run its last steps finer. Throws rootopt::Error naming the GEMM when cuBLASLt has none.
  NewtonSchulzPlan(const LtHandle& lt, PlanShape shape, Recipe recipe, Precision working,
                   size_t workspace_bytes);
  ~NewtonSchulzPlan();
  NewtonSchulzPlan(const NewtonSchulzPlan&) = delete;
  NewtonSchulzPlan& operator=(const NewtonSchulzPlan&) = delete;

  // Enqueues the recipe on `stream` (no allocation, no synchronisation).
  PlanResult run(const PlanBuffers& buffers, cudaStream_t stream) const;
  // How X0 must be stored: in the working precision (docs/recipes.md, step 0, is not a tail
  // step); a recipe whose step 1 is already in the tail widens it first.
  Storage input_storage() const { return storage_of(working_); }

 private:
  struct Gemms;
  Precision step_precision(int64_t k) const { return recipe_.step_precision(k, working_); }
  const Gemms& gemms(int64_t k) const;
  int schatten_order() const;  // 0 for Frobenius
  PlanResult run_standard(const PlanBuffers& buffers, cudaStream_t stream) const;
  PlanResult run_gram(const PlanBuffers& buffers, cudaStream_t stream) const;

  PlanShape shape_;
  Recipe recipe_;
  Precision working_;
  std::vector<bool> restart_after_;            // per step (0-based)
  std::vector<std::unique_ptr<Gemms>> gemms_;  // one per distinct step precision
};

}  // namespace rootopt::cuda
