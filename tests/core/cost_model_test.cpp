// The cost model against closed forms derived by hand from docs/recipes.md's arithmetic (not from
// the implementation's loop), and its properties: Polar Express as deployed costs 1, the Gram form
// is cheaper than the standard form for wide shapes and dearer for square ones, precision weights.
#include <gtest/gtest.h>

#include <cmath>

#include "rootopt/cost_model.h"
#include "rootopt/error.h"

namespace rootopt {
namespace {

// Closed forms, with r = min(rows, cols), L = max(rows, cols), K steps, n restarts:
//   standard: K (r^2 L + r^3 + 2 r^2 L)                            = K (3 r^2 L + r^3)
//   gram:     R0 r^2 L + X_K 2 r^2 L + K R R's r^3
//             + H Q 2 r^3 on the K - 1 - n steps whose Q is not I
//             + (H R, T H) 3 r^3 on the K - 1 - n steps that are neither last nor a restart
//             + 3 r^2 L per restart                                = 3 r^2 L (1 + n) + (5 (K - 1 -
//             n) + K) r^3
double standard_flops(double r, double l, int k) { return k * (3 * r * r * l + r * r * r); }
double gram_flops(double r, double l, int k, int n) {
  return 3 * r * r * l * (1 + n) + (5.0 * (k - 1 - n) + k) * r * r * r;
}

Recipe make(const std::string& name, Shape shape, int steps, IterationForm form,
            std::vector<int64_t> restarts = {}) {
  Recipe recipe = builtin_recipe(name, shape, steps);
  recipe.form = form;
  recipe.restarts = std::move(restarts);
  return recipe;
}

TEST(CostModel, FlopsMatchClosedForms) {
  for (Shape shape : {Shape{1024, 3584}, Shape{4096, 1024}, Shape{7, 300}, Shape{512, 512}}) {
    const double r = double(shape.rank()), l = double(std::max(shape.rows, shape.cols));
    for (int k = 1; k <= 10; ++k) {
      const RecipeFlops s = recipe_flops(make("polar-express", shape, k, IterationForm::standard),
                                         shape, Precision::bf16);
      EXPECT_DOUBLE_EQ(s.bf16, standard_flops(r, l, k)) << to_string(shape) << " K=" << k;
      EXPECT_EQ(s.tf32 + s.fp32, 0.0);
      EXPECT_DOUBLE_EQ(
          recipe_flops(make("muon", shape, k, IterationForm::gram), shape, Precision::fp32).fp32,
          gram_flops(r, l, k, 0))
          << to_string(shape) << " K=" << k;
    }
    for (const std::vector<int64_t>& restarts :
         {std::vector<int64_t>{2}, std::vector<int64_t>{1, 3}, std::vector<int64_t>{1, 2, 3, 4}}) {
      EXPECT_DOUBLE_EQ(recipe_flops(make("muon", shape, 8, IterationForm::gram, restarts), shape,
                                    Precision::bf16)
                           .bf16,
                       gram_flops(r, l, 8, int(restarts.size())))
          << to_string(shape) << " restarts " << restarts.size();
    }
    // The normalization adds no GEMM.
    Recipe schatten = make("polar-express", shape, 5, IterationForm::gram, {2});
    schatten.normalization = Normalization::schatten8;
    EXPECT_DOUBLE_EQ(recipe_flops(schatten, shape, Precision::bf16).total(),
                     gram_flops(r, l, 5, 1));
  }
  // Issue 10's figure: at 4096x14336 the Gram form costs ~0.55-0.7x the standard form's flops.
  const double ratio = gram_flops(4096, 14336, 5, 0) / standard_flops(4096, 14336, 5);
  EXPECT_NEAR(recipe_flops(make("muon", {4096, 14336}, 5, IterationForm::gram), {4096, 14336},
                           Precision::bf16)
                      .total() /
                  recipe_flops(make("muon", {4096, 14336}, 5, IterationForm::standard),
                               {4096, 14336}, Precision::bf16)
                      .total(),
              ratio, 1e-12);
  EXPECT_GT(ratio, 0.55);
  EXPECT_LT(ratio, 0.7);
}

// A tail moves its steps' flops to the tail precision's bucket: the last `tail` steps of the
// standard form; in the Gram form also X_K (the last step's), and a restart after a tail step.
TEST(CostModel, TailStepsArePricedInTheirPrecision) {
  const Shape shape{1024, 4096};
  const double r = 1024, l = 4096;
  Recipe standard = make("polar-express", shape, 6, IterationForm::standard);
  standard.tail_steps = 2;
  standard.tail_precision = Precision::tf32;
  const RecipeFlops s = recipe_flops(standard, shape, Precision::bf16);
  EXPECT_DOUBLE_EQ(s.bf16, standard_flops(r, l, 4));
  EXPECT_DOUBLE_EQ(s.tf32, standard_flops(r, l, 2));
  // fp32 working: the tf32 tail is coarser, so every step stays fp32.
  EXPECT_DOUBLE_EQ(recipe_flops(standard, shape, Precision::fp32).fp32, standard_flops(r, l, 6));
  Recipe gram = make("polar-express", shape, 8, IterationForm::gram, {6});
  gram.tail_steps = 2;  // steps 7 and 8; the restart is after step 6, a bf16 step
  gram.tail_precision = Precision::fp32;
  const RecipeFlops g = recipe_flops(gram, shape, Precision::bf16);
  // Step 7 (Q = I after the restart): R R r^3, T H and H R 3 r^3; step 8: R R r^3, H Q 2 r^3,
  // X_K 2 r^2 L.
  EXPECT_DOUBLE_EQ(g.fp32,
                   1 * r * r * r + 3 * r * r * r + r * r * r + 2 * r * r * r + 2 * r * r * l);
  EXPECT_DOUBLE_EQ(g.total(), gram_flops(r, l, 8, 1));
  // Priced: on the GPU fp32 costs 15x bf16, on the CPU the same.
  EXPECT_DOUBLE_EQ(g.weighted(kGpuProfile), g.bf16 + 15 * g.fp32);
  EXPECT_DOUBLE_EQ(g.weighted(kCpuProfile), g.total());
}

TEST(CostModel, CostIsRelativeToPolarExpressAsDeployed) {
  for (Shape shape : {Shape{1024, 3584}, Shape{3584, 1024}, Shape{256, 256}, Shape{1, 1}}) {
    for (const DeviceProfile& profile : {kGpuProfile, kCpuProfile}) {
      EXPECT_DOUBLE_EQ(
          recipe_cost(builtin_recipe("polar-express", shape), shape, Precision::bf16, profile),
          1.0);
      // Coefficients and normalization do not change the cost; steps do, linearly.
      Recipe muon = builtin_recipe("muon", shape, 10);
      muon.normalization = Normalization::schatten4;
      EXPECT_DOUBLE_EQ(recipe_cost(muon, shape, Precision::bf16, profile), 2.0);
    }
    // fp32 working on the GPU: 15 times the bf16 deployment.
    EXPECT_DOUBLE_EQ(
        recipe_cost(builtin_recipe("polar-express", shape), shape, Precision::fp32, kGpuProfile),
        15.0);
  }
}

// Gram form vs standard form at equal K (in units of r^3, aspect a = L / r): the Gram form costs
// 3a + 6K - 5 in all, the standard form K (3a + 1): cheaper exactly when a > 5/3 (K >= 2).
// Checked for aspect >= 3 and for square.
TEST(CostModel, GramCheaperForWideShapesDearerForSquare) {
  for (int k = 2; k <= 12; ++k) {
    for (Shape wide : {Shape{1024, 3072}, Shape{1024, 3584}, Shape{4096, 14336}, Shape{300, 7}}) {
      EXPECT_LT(recipe_cost(make("muon", wide, k, IterationForm::gram), wide, Precision::bf16,
                            kGpuProfile),
                recipe_cost(make("muon", wide, k, IterationForm::standard), wide, Precision::bf16,
                            kGpuProfile))
          << to_string(wide) << " K=" << k;
    }
    const Shape square{1024, 1024};
    EXPECT_GT(recipe_cost(make("muon", square, k, IterationForm::gram), square, Precision::bf16,
                          kCpuProfile),
              recipe_cost(make("muon", square, k, IterationForm::standard), square, Precision::bf16,
                          kCpuProfile))
        << "K=" << k;
  }
}

TEST(CostModel, RejectsWhatItCannotPrice) {
  EXPECT_THROW(recipe_flops(builtin_recipe("muon", {8, 8}), {8, 8}, Precision::fp64), Error);
  Recipe bad = builtin_recipe("muon", {8, 8});
  bad.restarts = {1};  // standard form
  EXPECT_THROW(recipe_flops(bad, {8, 8}, Precision::bf16), Error);
  EXPECT_THROW(recipe_flops(builtin_recipe("muon", {8, 8}), {0, 8}, Precision::bf16), Error);
  EXPECT_EQ(parse_device_profile("gpu").fp32, 15.0);
  EXPECT_THROW(parse_device_profile("tpu"), Error);
}

}  // namespace
}  // namespace rootopt
