// Internal: host launchers of the elementwise kernels between the Newton-Schulz GEMMs
// (newton_schulz_kernels.cu, gram_mirror.cu), which newton_schulz_plan.cpp sequences per recipe
// (docs/recipes.md). Each launcher enqueues on `stream`, checks cudaGetLastError() and never
// synchronises. The matrices are a batch of `count` column-major small x small workspace matrices,
// small^2 elements apart, in the storage of the step (bf16 or fp32); the CPU reference of each
// kernel is named in its comment in the .cu file.
#pragma once

#include <cuda_runtime.h>

#include <cstdint>

#include "group_view.h"

namespace rootopt::cuda {

// `count` small x small matrices, small^2 elements apart.
struct SquareBatch {
  int64_t small = 0;
  int64_t count = 1;
  int64_t elements() const { return small * small; }
};

// Schatten normalisation, step 3 of docs/recipes.md: per-block sums of squares, in fp64, of the
// stored values of each matrix, into partial[matrix * kMaxBlocksPerMatrix + block].
void launch_square_sum(const void* a, Storage storage, const SquareBatch& batch, double* partial,
                       cudaStream_t stream);

// The coefficients of a step's polynomial matrix H = a I + b R + c R2.
struct PolynomialArgs {
  double a = 0, b = 0, c = 0;  // as the schedule holds them (used rounded to fp32)
  // Schatten step 1: the per-block sums of squares of launch_square_sum; each matrix's
  // alpha = s^(1/order) is formed from them on the device and folded into the coefficients
  // (a / alpha, b / alpha^3, c / alpha^5). nullptr: the coefficients are used as they are.
  const double* partial = nullptr;
  int schatten_order = 0;  // 4 or 8 with `partial`
  // A tf32 step: H is only ever a GEMM operand, so it is stored rounded to TF32 (the rounding
  // the GEMM applies on entry, docs/recipes.md).
  bool round_tf32 = false;
};

// H = rnd(a I + b R + c R2) elementwise: R in `storage`, R2 in fp32, H in `storage` (may be R
// itself: each element is read before it is written, by the same thread).
void launch_polynomial(const void* r, const float* r2, void* h, Storage storage,
                       const SquareBatch& batch, const PolynomialArgs& args, cudaStream_t stream);

// dst = src widened from bf16 to fp32 (exact), `count` elements; for the step at which a recipe
// passes from bf16 to its tf32/fp32 tail.
void launch_widen(const void* src, float* dst, int64_t count, cudaStream_t stream);

// dst = src rounded to TF32 (nearest even), `count` elements; dst may be src.
void launch_round_tf32(const float* src, float* dst, int64_t count, cudaStream_t stream);

// A12 = A21^T in each of `batch` column-major small x small matrices whose lower blocks A11, A21,
// A22 were computed by split GEMMs (symmetric products of cublaslt_gemm.h).
struct MirrorShape {
  int64_t small = 0;  // A is small x small
  int64_t split = 0;  // A11 is split x split
  int64_t batch = 1;
};
void launch_mirror_block(void* a, const MirrorShape& shape, Storage storage, cudaStream_t stream);

// Upper triangle = lower triangle transposed, whole matrix: "lower triangle computed, mirrored"
// of docs/recipes.md (A = X X^T, R = T H), exact whatever order a GEMM summed either triangle in.
void launch_mirror_lower(void* a, const SquareBatch& batch, Storage storage, cudaStream_t stream);

}  // namespace rootopt::cuda
