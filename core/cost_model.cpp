#include "rootopt/cost_model.h"

#include <algorithm>

#include "check.h"

namespace rootopt {
namespace {

// Adds `flops` to the bucket of precision `p`.
void add(RecipeFlops& flops, Precision p, double amount) {
  switch (p) {
    case Precision::bf16:
      flops.bf16 += amount;
      return;
    case Precision::tf32:
      flops.tf32 += amount;
      return;
    case Precision::fp32:
      flops.fp32 += amount;
      return;
    case Precision::fp64:
      break;
  }
  ROOTOPT_ASSERT(false, "no cost for precision ", to_string(p));
}

}  // namespace

DeviceProfile parse_device_profile(const std::string& name) {
  if (name == "gpu") return kGpuProfile;
  if (name == "cpu") return kCpuProfile;
  ROOTOPT_FAIL("unknown device profile '", name, "' (gpu, cpu)");
}

RecipeFlops recipe_flops(const Recipe& recipe, Shape shape, Precision working) {
  ROOTOPT_CHECK(working != Precision::fp64,
                "cost model: fp64 is not a working precision of the runtime (bf16, tf32, fp32)");
  ROOTOPT_CHECK(shape.rows > 0 && shape.cols > 0, "cost model: shape ", to_string(shape),
                " has a zero dimension");
  recipe.validate("cost model", /*matrix_level=*/true);
  const double r = double(shape.rank()), l = double(std::max(shape.rows, shape.cols));
  const double r2l = r * r * l, r3 = r * r * r;
  const int64_t steps = recipe.steps();
  RecipeFlops flops;
  if (recipe.form == IterationForm::standard) {
    for (int64_t k = 0; k < steps; ++k)
      add(flops, recipe.step_precision(k, working), r2l + r3 + 2 * r2l);
    return flops;
  }
  add(flops, recipe.step_precision(0, working), r2l);  // R0
  bool q_is_identity = true;
  for (int64_t k = 0; k < steps; ++k) {
    const Precision p = recipe.step_precision(k, working);
    add(flops, p, r3);                          // R R
    if (!q_is_identity) add(flops, p, 2 * r3);  // H Q
    q_is_identity = false;
    if (k + 1 == steps) {
      add(flops, p, 2 * r2l);  // X_K = Q X0
    } else if (std::binary_search(recipe.restarts.begin(), recipe.restarts.end(), k + 1)) {
      add(flops, p, 2 * r2l + r2l);  // X0 = Q X0, R = X0 X0^T
      q_is_identity = true;
    } else {
      add(flops, p, 2 * r3 + r3);  // T = H R, R = T H
    }
  }
  return flops;
}

double recipe_cost(const Recipe& recipe, Shape shape, Precision working,
                   const DeviceProfile& profile) {
  const double deployed =
      recipe_flops(builtin_recipe("polar-express", shape, 5), shape, Precision::bf16)
          .weighted(profile);
  return recipe_flops(recipe, shape, working).weighted(profile) / deployed;
}

}  // namespace rootopt
