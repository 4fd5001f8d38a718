// Internal: the arithmetic of a recipe (docs/recipes.md, "The arithmetic"), written once. The
// matrix-level emulation (matrix_reference.cpp: fp64, fp32, tf32, emulated bf16) and the CPU
// runtime backend (runtime/cpu/cpu_backend.cpp, on its float buffers) both call it, so what the
// tuner validates is what the CPU step computes, bit for bit.
//
// Matrices are row-major and wide (rows <= cols; the callers transpose tall ones). Scalar is
// float for the fp32/tf32/bf16 arithmetic and double for the fp64 reference.
#pragma once

#include <Eigen/Core>
#include <cstdint>
#include <vector>

#include "rootopt/precision.h"
#include "rootopt/recipe.h"

namespace rootopt::detail {

template <typename Scalar>
using RowMajorMatrix = Eigen::Matrix<Scalar, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;

template <typename Scalar>
class NewtonSchulzWorkspace;

// Step 0 without its rounding: values /= fl(sqrt(sum of squares)) + guard, the sum accumulated
// in fp64 in index order (deterministic), the root rounded to Scalar, each element divided in
// Scalar. guard: 1e-7 in fp32 (a zero matrix stays zero, never 0/0), the smallest normal double
// in fp64 (so that sum s_i^2 = 1 holds to rounding and the spectral model applies exactly).
template <typename Scalar>
void normalize_frobenius(Scalar* values, int64_t count);

// Steps 0..K of `recipe` on x (rows <= cols, row-major, in place): x holds B on entry and X_K on
// return. Step 0 (normalize_frobenius, then rounding to the working precision's storage), the
// normalization (frobenius, schatten4/8 folded into step 1, or aol), and the K steps in the
// recipe's form, step k in recipe.step_precision(k, working). `working`: fp32, tf32 or bf16 on
// float buffers, fp64 on double ones. The recipe must be valid (Recipe::validate), except that
// aol is accepted here. The workspace must have been reserved for (rows, cols, recipe, working).
template <typename Scalar>
void newton_schulz_recipe(Scalar* x, int64_t rows, int64_t cols, const Recipe& recipe,
                          Precision working, NewtonSchulzWorkspace<Scalar>& workspace);

// Buffers for newton_schulz_recipe(), allocated up front so that the runtime's step() never
// allocates. reserve() only grows them; newton_schulz_recipe() checks they suffice.
template <typename Scalar>
class NewtonSchulzWorkspace {
 public:
  // Enough for a rows x cols (rows <= cols) matrix under `recipe` at working precision
  // `working`: the next iterate (rows x cols); r x r matrices A and P (standard form) or R, R^2,
  // H, Q, T (gram form); when a step runs in tf32, the TF32-rounded copies of GEMM operands (one
  // rows x cols, two r x r); for aol, the r row scales.
  void reserve(int64_t rows, int64_t cols, const Recipe& recipe, Precision working);

  // The buffers' roles (used by the implementation).
  // r x r buffers: A or R; P, A^2 or R^2; H; Q; T; two TF32 operand copies.
  enum Square { kGram, kPolynomial, kH, kQ, kT, kOperand1, kOperand2, kSquareCount };
  // rows x cols buffers: the next iterate; the TF32 operand copy of the iterate.
  enum Wide { kNext, kWideOperand, kWideCount };
  struct Sizes {
    size_t square[kSquareCount];
    size_t wide[kWideCount];
    size_t scales;
  };
  static Sizes needs(int64_t rows, int64_t cols, const Recipe& recipe, Precision working);

 private:
  friend void newton_schulz_recipe<Scalar>(Scalar*, int64_t, int64_t, const Recipe&, Precision,
                                           NewtonSchulzWorkspace<Scalar>&);
  std::vector<Scalar> square_[kSquareCount];
  std::vector<Scalar> wide_[kWideCount];
  std::vector<Scalar> scales_;
};

extern template void normalize_frobenius<float>(float*, int64_t);
extern template void normalize_frobenius<double>(double*, int64_t);
extern template class NewtonSchulzWorkspace<float>;
extern template class NewtonSchulzWorkspace<double>;
extern template void newton_schulz_recipe<float>(float*, int64_t, int64_t, const Recipe&, Precision,
                                                 NewtonSchulzWorkspace<float>&);
extern template void newton_schulz_recipe<double>(double*, int64_t, int64_t, const Recipe&,
                                                  Precision, NewtonSchulzWorkspace<double>&);

}  // namespace rootopt::detail
