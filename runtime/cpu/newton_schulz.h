// Steps 3 and 4 of the ROOT step on the CPU: Frobenius normalisation and the quintic
// Newton-Schulz iteration with a per-shape schedule (ROOT arXiv 2511.20626, Algorithm 1;
// per-step coefficients as in Polar Express, arXiv 2505.16932, Algorithm 1).
#pragma once

#include <cstdint>
#include <vector>

#include "rootopt/precision.h"
#include "rootopt/schedule.h"

namespace rootopt::detail::cpu {

// Buffers for one matrix of up to `max_rank` x `max_cols` (rank = the smaller dimension).
class NewtonSchulzWorkspace {
 public:
  void reserve(int64_t rank, int64_t cols);
  float* gram() { return gram_.data(); }        // A = X X^T            (rank x rank)
  float* polynomial() { return poly_.data(); }  // b A + c A^2          (rank x rank)
  float* next() { return next_.data(); }        // a X + (b A + c A^2) X (rank x cols)

 private:
  std::vector<float> gram_, poly_, next_;
};

// X0 = B / (||B||_F + 1e-7) in place. The sum of squares is accumulated in fp64 (in index order,
// so the result is deterministic), the norm rounded to fp32, and each element divided in fp32.
// A zero B stays zero (0 / 1e-7), never 0/0.
void normalize_frobenius(float* values, int64_t count);

// The schedule's K steps on X (rows <= cols, row-major, in place), for k = 1..K:
//   A = X X^T;  P = b_k A + c_k A A;  X <- a_k X + P X.
// fp32: everything in fp32 (Eigen GEMMs). bf16 (tensor-core emulation): X0 is rounded to bf16;
// each GEMM takes bf16 operands, accumulates in fp32, applies its epilogue in fp32 and rounds
// its output to bf16 once: A = bf16(X X^T), P = bf16(c A A + b A), X = bf16(P X + a X).
void newton_schulz(float* x, int64_t rows, int64_t cols, const Schedule& schedule,
                   Precision precision, NewtonSchulzWorkspace& workspace);

}  // namespace rootopt::detail::cpu
