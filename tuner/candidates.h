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

// The most steps any candidate may have.
inline constexpr int64_t kMaxCandidateSteps = kMaxTuneSteps;

}  // namespace rootopt::tuner
