// Recipe: how one matrix shape is orthogonalized, end to end: the K quintic steps and the way the
// runtime executes them. The tuner chooses a recipe per shape within a cost budget; the table
// stores it; every backend and the matrix-level emulation run it with the same arithmetic
// (docs/runtime.md, "The step, operation by operation"; docs/recipes.md for why each field exists).
//
//   normalization  X0 = B / ||B||_F always comes first (it keeps bf16 in range). Schatten-p
//                  normalisation then divides by alpha = ||sigma(X0)||_p, a tighter upper bound
//                  of the spectral norm (sigma_max <= ||.||_8 <= ||.||_4 <= ||.||_F), computed
//                  from the Gram products step 1 forms anyway (||A||_F^(1/2), ||A^2||_F^(1/4),
//                  A = X0 X0^T) and folded into step 1's coefficients: no extra GEMM.
//   form           standard: every step forms A = X X^T and X <- a X + (b A + c A^2) X.
//                  gram: iterates on the small Gram matrix (Gram Newton-Schulz): R = X0 X0^T,
//                  per step H = a I + b R + c R^2, Q <- H Q, R <- H R H; X_K = Q X0. Cheaper for
//                  wide shapes; equal to the standard form in exact arithmetic.
//   restarts       gram form only: after step k, X_k = Q X0 is formed, R recomputed from it and
//                  Q reset, which removes the drift of R that low precision causes.
//   tail           the last `tail_steps` steps run in `tail_precision` (tf32 or fp32) when the
//                  working precision is lower (bf16), to get under bf16's error floor.
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "rootopt/precision.h"
#include "rootopt/schedule.h"

namespace rootopt {

// aol (Turbo-Muon, arXiv 2512.04632): X <- diag(s) X with s_i = (sum_j |A_ij|)^(-1/2) on the
// short side's Gram matrix A. It changes the singular vectors, so it has no spectral model and is
// not a table or runtime option: the matrix-level emulation runs it for the audit's Turbo-Muon
// anchor, compared with the exact polar factor of the original matrix.
enum class Normalization { frobenius, schatten4, schatten8, aol };
enum class IterationForm { standard, gram };

Normalization parse_normalization(const std::string& text);  // "frobenius" | "schatten4" | ...
std::string to_string(Normalization normalization);
IterationForm parse_iteration_form(const std::string& text);  // "standard" | "gram"
std::string to_string(IterationForm form);
// The p of a Schatten norm (2 for frobenius); 0 for aol.
int schatten_order(Normalization normalization);

// The most steps a recipe may have: far above any useful schedule (5-10), low enough that a
// damaged table cannot make one step() run for hours.
inline constexpr int64_t kMaxRecipeSteps = 64;

struct Recipe {
  Recipe() = default;
  // A schedule as the built-ins deploy it: Frobenius normalisation, standard form, no tail.
  Recipe(Schedule schedule_) : schedule(std::move(schedule_)) {}  // NOLINT: implicit on purpose

  Schedule schedule;  // K = schedule.size() steps
  Normalization normalization = Normalization::frobenius;
  IterationForm form = IterationForm::standard;
  std::vector<int64_t> restarts;  // gram form: restart after these steps, 1 <= k < K, ascending
  int64_t tail_steps = 0;         // 0 <= tail_steps <= K
  Precision tail_precision = Precision::fp32;  // tf32 or fp32

  int64_t steps() const { return schedule.size(); }
  // Throws rootopt::Error naming `where` and the offending field: K outside [1, kMaxRecipeSteps],
  // restarts outside [1, K) or unsorted or on the standard form, tail outside [0, K], a tail
  // precision other than tf32/fp32, aol (matrix-level only: accepted when `matrix_level`, by the
  // emulation, the cost model and `rootopt eval`).
  void validate(const std::string& where, bool matrix_level = false) const;
  // The precision step k (0-based) runs in when the working precision is `working`: the tail's
  // precision when k is in the tail and it is higher than `working`, else `working`.
  Precision step_precision(int64_t k, Precision working) const;
  // One line: "schatten8, gram, 7 steps, restart after 2, last step tf32".
  std::string describe() const;
};

// A built-in schedule as deployed: Frobenius normalisation, standard form, no tail.
Recipe builtin_recipe(const std::string& name, Shape shape, int64_t steps = 5);

}  // namespace rootopt
