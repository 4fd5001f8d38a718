// The recipe variants the core and runtime tests run against the fp64 SVD reference, and the
// tolerance model they share: |X_K - X_ref| / |X_ref| <= c u A with A = rounding_amplification()
// (svd_reference.h).
#pragma once

#include <cmath>
#include <string>

#include "rootopt/recipe.h"

namespace rootopt::testing {

enum class RecipeVariant { plain, restart, tail_fp32, tail_tf32 };

struct RecipeCase {
  Shape shape;
  Normalization normalization;
  IterationForm form;
  RecipeVariant variant;
};

// Polar Express as deployed, 5 steps in the standard form and 8 in the Gram form (about the same
// cost for wide shapes), with the normalization; a restart after step 2 (coefficients.md: it
// removed the bf16 drift); a tail of the last 2 steps in fp32 or TF32.
inline Recipe make_recipe(const RecipeCase& c) {
  const bool gram = c.form == IterationForm::gram;
  Recipe r = builtin_recipe("polar-express", c.shape, gram ? 8 : 5);
  r.normalization = c.normalization;
  r.form = c.form;
  if (c.variant == RecipeVariant::restart) r.restarts = {2};
  if (c.variant == RecipeVariant::tail_fp32 || c.variant == RecipeVariant::tail_tf32) {
    r.tail_steps = 2;
    r.tail_precision = c.variant == RecipeVariant::tail_fp32 ? Precision::fp32 : Precision::tf32;
  }
  return r;
}

// "96x320_schatten8_gram_restart", for test names.
inline std::string recipe_case_name(const RecipeCase& c) {
  const char* variant[] = {"plain", "restart", "tail_fp32", "tail_tf32"};
  return std::to_string(c.shape.rows) + "x" + std::to_string(c.shape.cols) + "_" +
         to_string(c.normalization) + "_" + to_string(c.form) + "_" +
         variant[static_cast<int>(c.variant)];
}

// A seed per case, so that every case sees its own random matrix.
inline uint64_t recipe_case_seed(const RecipeCase& c) {
  return uint64_t(c.shape.rows * 1009 + c.shape.cols) * 64 + uint64_t(c.normalization) * 16 +
         uint64_t(c.form) * 4 + uint64_t(c.variant);
}

// Unit roundoffs: fp64 2^-53, fp32 2^-24, TF32 (11 significant bits) 2^-11, bf16 (8) 2^-8.
inline double unit_roundoff(Precision p) {
  switch (p) {
    case Precision::fp64:
      return std::ldexp(1.0, -53);
    case Precision::fp32:
      return std::ldexp(1.0, -24);
    case Precision::tf32:
      return std::ldexp(1.0, -11);
    case Precision::bf16:
      return std::ldexp(1.0, -8);
  }
  return 1;
}

// The factor c: fp64/fp32: a GEMM of inner length n rounds each output by up to ~sqrt(n) u in
// random-sign accumulation (Higham & Mary 2019), n <= 320 in these tests, times a few outputs per
// step: c = 16 (the largest ratio measured is ~6, for the Gram form without restart). tf32/bf16:
// each stored output or operand is rounded once by <= u (~u/2 on average), 2-5 roundings per step
// add in quadrature, accumulation is fp32: c = 4 (largest measured ~0.8).
inline double tolerance_factor(Precision p) {
  return p == Precision::fp64 || p == Precision::fp32 ? 16 : 4;
}

}  // namespace rootopt::testing
