// TEMPORARY stand-ins for core APIs written in parallel (docs/recipes.md is their contract):
// the cost model (include/rootopt/cost_model.h) and the recipe emulation
// (newton_schulz(b, recipe, working) in matrix_reference.h). Removed when they land in main.
#pragma once

#include <Eigen/Core>

#include "rootopt/precision.h"
#include "rootopt/recipe.h"
#include "rootopt/shape.h"

namespace rootopt::audit::standin {

// Device profiles of the cost model (relative time per flop): gpu (bf16 1, tf32 2, fp32 15),
// cpu (every precision 1).
enum class CostProfile { gpu, cpu };

// GEMM flops of `recipe` at `shape` (symmetric products at half, each step weighted by its
// precision on `profile`, working precision bf16), divided by those of Polar Express as deployed
// (5 standard steps, Frobenius, bf16) at the same shape. Normalization adds no GEMM (aol and
// Schatten reuse step 1's Gram products).
double recipe_cost(const Recipe& recipe, Shape shape, CostProfile profile = CostProfile::gpu);

// The recipe on B in `working` precision. Standard form without a precision tail only: the
// normalization (Schatten-p or aol) is applied in fp64 and folded into step 1's coefficients,
// then the schedule runs through newton_schulz(b, Schedule, precision).
Eigen::MatrixXd newton_schulz(const Eigen::MatrixXd& b, const Recipe& recipe, Precision working);

}  // namespace rootopt::audit::standin
