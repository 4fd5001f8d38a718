// Cost model of a recipe (docs/recipes.md, "Cost model"): its GEMM flops, a product with a
// symmetric result counted at half (the backends compute one triangle), each step's GEMMs weighted
// by the relative cost of that step's precision on the target device, divided by the cost of
// Polar Express as deployed (5 standard steps, Frobenius, bf16) at the same shape. Elementwise
// work (normalization, H, momentum, update) is not counted: memory-bound and small next to the
// GEMMs except for tiny shapes.
#pragma once

#include <string>

#include "rootopt/precision.h"
#include "rootopt/recipe.h"
#include "rootopt/shape.h"

namespace rootopt {

// Relative time per flop of a GEMM in each precision.
struct DeviceProfile {
  double bf16 = 1;
  double tf32 = 1;
  double fp32 = 1;
};
// H100/H200 dense tensor-core peaks (bf16 ~990, TF32 ~495, fp32 ~67 TFLOP/s): what
// `rootopt tune --budget` prices.
inline constexpr DeviceProfile kGpuProfile{1, 2, 15};
// The CPU backend computes bf16 and tf32 steps in fp32 and rounds: every precision costs the same.
inline constexpr DeviceProfile kCpuProfile{1, 1, 1};
// "gpu" | "cpu"; throws rootopt::Error otherwise.
DeviceProfile parse_device_profile(const std::string& name);

// A recipe's GEMM flops at a shape, by the precision the steps run in.
struct RecipeFlops {
  double bf16 = 0;
  double tf32 = 0;
  double fp32 = 0;
  double total() const { return bf16 + tf32 + fp32; }
  double weighted(const DeviceProfile& profile) const {
    return bf16 * profile.bf16 + tf32 * profile.tf32 + fp32 * profile.fp32;
  }
};

// The flops of `recipe` on `shape` (either orientation: the wide view r x L is used) at working
// precision `working` (bf16, tf32 or fp32; each step in recipe.step_precision(k, working)).
// With r = min(rows, cols), L = max(rows, cols), per step:
//   standard: X X^T r^2 L (symmetric), A A r^3 (symmetric), update 2 r^2 L;
//   gram:     R R r^3 (symmetric), H Q 2 r^3 (not while Q = I), H R 2 r^3 and T H r^3
//             (symmetric; neither at the last step nor at a restart step);
//             once R0 r^2 L (step 1's precision) and X_K 2 r^2 L (step K's); a restart after
//             step k 3 r^2 L (step k's).
// The normalization adds no GEMM (Schatten folds into step 1; aol reuses step 1's Gram matrix).
// Throws rootopt::Error on an invalid recipe (aol aside) or an fp64 working precision.
RecipeFlops recipe_flops(const Recipe& recipe, Shape shape, Precision working);

// recipe_flops(recipe, shape, working) weighted by `profile`, relative to Polar Express as
// deployed (5 standard steps, Frobenius, bf16) at the same shape, weighted by the same profile.
// 1.0 is the budget `rootopt tune --budget` defaults to.
double recipe_cost(const Recipe& recipe, Shape shape, Precision working,
                   const DeviceProfile& profile);

}  // namespace rootopt
