// The recipes the tuner may choose for a shape within its budget (RecipeSpace): every
// normalisation x form x K x restart pattern x precision tail whose cost (cost model, GPU
// profile, relative to Polar Express as deployed) is at most the budget. Of the recipes that
// differ only in K, the one with the most steps is kept: in exact arithmetic an extra step can
// only help (the identity is an admissible step), and its cost is already within the budget.
#pragma once

#include <cstdint>
#include <vector>

#include "rootopt/recipe.h"
#include "rootopt/tuner.h"

namespace rootopt::tuner {

struct Candidate {
  Recipe recipe;  // schedule: a K-step placeholder until the fitted one is put in
  double cost = 0;
};

// Sorted by (normalisation, K, form, restarts, tail). Empty if nothing fits the budget.
std::vector<Candidate> candidate_recipes(Shape shape, const RecipeSpace& space);

// Throws InvalidTuneOption("recipes.budget") naming the shape when no recipe fits the budget.
void check_some_candidate(Shape shape, const RecipeSpace& space);

// The most steps a searched candidate may have (RecipeSpace::steps = 0). Ten steps amplify small
// singular values up to ~4.26^10 x 1.3 = 2e6 (docs/tuner.md, "Ceiling"), far below what bf16's
// and tf32's rounding of X0 (relative 2^-9, 2^-11) can resolve; measured at 128x2048, K = 11 to
// 16 lower the exact error from 0.007 to 0.0007, invisible at matrix level, and cost 3-37 s of
// fitting each.
inline constexpr int64_t kMaxCandidateSteps = 10;

}  // namespace rootopt::tuner
