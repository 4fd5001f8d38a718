// TEMPORARY stand-ins for core APIs that are being written in parallel (docs/recipes.md is their
// contract): the cost model (include/rootopt/cost_model.h) and the recipe emulation
// (newton_schulz(b, recipe, precision) in matrix_reference.h).
// Removed when they land in main.
#pragma once

#include <Eigen/Core>

#include "rootopt/precision.h"
#include "rootopt/recipe.h"
#include "rootopt/spectral.h"

namespace rootopt::tuner::standin {

// GEMM flops of `recipe` at `shape` on the GPU profile, relative to Polar Express as deployed.
double recipe_cost(const Recipe& recipe, Shape shape);
Eigen::MatrixXd newton_schulz(const Eigen::MatrixXd& b, const Recipe& recipe, Precision working);

}  // namespace rootopt::tuner::standin
