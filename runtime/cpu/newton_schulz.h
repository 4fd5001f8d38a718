// Steps 3 and 4 of the ROOT step on the CPU: Frobenius normalisation, the recipe's normalization
// and its quintic Newton-Schulz steps (ROOT arXiv 2511.20626, Algorithm 1; per-step coefficients
// as in Polar Express, arXiv 2505.16932). They are core's implementation of docs/recipes.md
// (core/newton_schulz_recipe.h), the one the matrix-level emulation runs too: the CPU backend
// applies it to its float buffers, so tuner and runtime compute the same bits.
#pragma once

#include "newton_schulz_recipe.h"

namespace rootopt::detail::cpu {

using NewtonSchulzWorkspace = detail::NewtonSchulzWorkspace<float>;
using detail::newton_schulz_recipe;
using detail::normalize_frobenius;

}  // namespace rootopt::detail::cpu
