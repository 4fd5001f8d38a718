// The CPU backend running recipes (normalization x form x restarts x tail, bf16 and fp32): one
// step against the independent fp64 reference (reference_root.h, Newton-Schulz through an SVD),
// bit-identity with the matrix-level emulation (same code), determinism across thread counts,
// and 10-step trajectories with recipes looked up from an in-memory coefficient table.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <cstring>
#include <random>

#include "backend.h"
#include "recipe_cases.h"
#include "reference_root.h"
#include "rootopt/coefficient_table.h"
#include "rootopt/matrix_reference.h"
#include "runtime_test_support.h"
#include "svd_reference.h"

namespace rootopt::testing {
namespace {

using Case = RecipeCase;
using Variant = RecipeVariant;

std::string case_name(const ::testing::TestParamInfo<Case>& info) {
  return recipe_case_name(info.param);
}

// Every runtime recipe (aol is matrix-level only) on odd shapes. The Gram form on a square shape
// is ill-conditioned (tests/core: errors ~ u kappa) and priced out by the cost model: not here.
std::vector<Case> runtime_cases() {
  std::vector<Case> cases;
  for (Shape shape : {Shape{7, 300}, Shape{96, 320}, Shape{300, 96}, Shape{256, 256}})
    for (Normalization n :
         {Normalization::frobenius, Normalization::schatten4, Normalization::schatten8})
      for (IterationForm form : {IterationForm::standard, IterationForm::gram})
        for (Variant v : {Variant::plain, Variant::restart, Variant::tail_fp32, Variant::tail_tf32})
          if ((v != Variant::restart || form == IterationForm::gram) &&
              !(form == IterationForm::gram && shape.rows == shape.cols))
            cases.push_back({shape, n, form, v});
  return cases;
}

// One parameter on a fresh CPU backend with `threads` threads.
struct Stepper {
  std::unique_ptr<detail::Backend> backend;
  explicit Stepper(int64_t threads = 1) : backend(detail::make_cpu_backend(threads)) {}
  int64_t add(const ParamSpec& spec, const Recipe& recipe) {
    const int64_t id = next++;
    backend->add(id, detail::ParamEntry{spec, recipe});
    return id;
  }
  int64_t next = 0;
};

class RecipeStep : public ::testing::TestWithParam<Case> {};

TEST_P(RecipeStep, OneStepMatchesFp64Reference) {
  const Case& c = GetParam();
  const Recipe recipe = make_recipe(c);
  for (Precision p : {Precision::fp32, Precision::bf16}) {
    std::mt19937_64 rng(recipe_case_seed(c));
    HostParam param("w", 1, c.shape.rows, c.shape.cols, DType::fp32);
    param.set_theta(0, random_matrix(c.shape.rows, c.shape.cols, rng, 0.05));
    param.set_grad(0, random_gradient(c.shape.rows, c.shape.cols, rng));
    ReferenceMatrix ref{param.theta(0), Eigen::MatrixXd::Zero(c.shape.rows, c.shape.cols)};
    const Eigen::MatrixXd theta0 = param.theta(0);
    Hyperparams h;
    h.lr = 0.02f;
    h.precision = p;
    const Eigen::VectorXd step1_input = reference_step(ref, param.grad(0), h, recipe);
    Stepper stepper;
    stepper.add(param.spec(), recipe);
    stepper.backend->step(h, nullptr);
    ASSERT_TRUE(stepper.backend->skipped_last_step().empty());
    // The update's relative error is X_K's (lr, decay and the subtraction add ~1e-7): the
    // emulation's tolerance model (recipe_cases.h).
    const double error = relative_error(param.theta(0) - theta0, ref.theta - theta0);
    const double bound = tolerance_factor(p) * unit_roundoff(p) *
                         rounding_amplification(recipe.schedule, step1_input);
    EXPECT_LE(error, bound) << to_string(p) << " " << recipe.describe();
    EXPECT_GT(error, 0.0);
  }
}

// The runtime and the emulation run the same code: with zero momentum, no Nesterov, no threshold,
// lr 1, no decay and scale 1, the new weights of a zero matrix are exactly -X_K of the gradient.
TEST_P(RecipeStep, EqualsTheEmulationBitForBit) {
  const Case& c = GetParam();
  const Recipe recipe = make_recipe(c);
  for (Precision p : {Precision::fp32, Precision::bf16}) {
    std::mt19937_64 rng(recipe_case_seed(c) + 1);
    HostParam param("w", 1, c.shape.rows, c.shape.cols, DType::fp32);
    param.set_grad(0, random_gradient(c.shape.rows, c.shape.cols, rng));
    Hyperparams h;
    h.lr = 1;
    h.momentum = 0;
    h.nesterov = false;
    h.weight_decay = 0;
    h.threshold = ThresholdMode::off;
    h.scale = ScaleMode::none;
    h.precision = p;
    Stepper stepper;
    stepper.add(param.spec(), recipe);
    stepper.backend->step(h, nullptr);
    const Eigen::MatrixXd emulated = newton_schulz(param.grad(0), recipe, p);
    EXPECT_EQ(param.theta(0), (-emulated).eval()) << to_string(p) << " " << recipe.describe();
  }
}

INSTANTIATE_TEST_SUITE_P(Cpu, RecipeStep, ::testing::ValuesIn(runtime_cases()), case_name);

std::vector<uint8_t> bytes_of(const std::vector<float>& v) {
  std::vector<uint8_t> out(v.size() * sizeof(float));
  std::memcpy(out.data(), v.data(), out.size());
  return out;
}

// Recipes with different workspace needs on one backend, 1 to 4 threads: the same bits.
TEST(RecipeStepThreads, DeterministicForAnyThreadCount) {
  Recipe gram = builtin_recipe("polar-express", {20, 33}, 8);
  gram.form = IterationForm::gram;
  gram.normalization = Normalization::schatten8;
  gram.restarts = {1, 3};
  gram.tail_steps = 2;
  gram.tail_precision = Precision::tf32;
  Recipe standard = builtin_recipe("you", {64, 96}, 5);
  standard.normalization = Normalization::schatten4;
  standard.tail_steps = 1;
  for (Precision p : {Precision::fp32, Precision::bf16}) {
    std::vector<std::vector<uint8_t>> first;
    for (int64_t threads : {1, 2, 4}) {
      std::mt19937_64 rng(3);
      std::vector<HostParam> params{{"g", 3, 33, 20, DType::fp32},
                                    {"s", 1, 64, 96, DType::bf16},
                                    {"f", 2, 7, 30, DType::fp32}};
      Stepper stepper(threads);
      for (HostParam& param : params) {
        const Eigen::MatrixXd t = param.theta(0);
        for (int64_t b = 0; b < param.batch(); ++b)
          param.set_theta(b, random_matrix(t.rows(), t.cols(), rng, 0.1));
      }
      stepper.add(params[0].spec(), gram);
      stepper.add(params[1].spec(), standard);
      stepper.add(params[2].spec(), builtin_recipe("muon", {7, 30}));
      Hyperparams h;
      h.precision = p;
      for (int k = 0; k < 3; ++k) {
        for (HostParam& param : params) {
          const Eigen::MatrixXd g = param.grad(0);
          for (int64_t b = 0; b < param.batch(); ++b)
            param.set_grad(b, random_gradient(g.rows(), g.cols(), rng));
        }
        stepper.backend->step(h, nullptr);
      }
      std::vector<std::vector<uint8_t>> state;
      for (int64_t id = 0; id < 3; ++id) {
        state.push_back(params[size_t(id)].theta_bytes());
        state.push_back(bytes_of(stepper.backend->read_momentum(id)));
      }
      if (first.empty()) first = state;
      EXPECT_EQ(state, first) << threads << " threads, " << to_string(p);
    }
  }
}

// Ten steps with recipes from a coefficient table (built in memory: the table's version-2 file
// layout is another change), against the fp64 reference. Tolerances as the Frobenius trajectory
// test (step_reference_test.cpp: fp32 5e-5, bf16 6e-2, momentum 1e-6), measured below them.
TEST(RecipeTrajectory, TenStepsWithRecipesFromATable) {
  CoefficientTable table;
  Recipe gram = builtin_recipe("polar-express", {96, 320}, 8);
  gram.form = IterationForm::gram;
  gram.normalization = Normalization::schatten8;
  gram.restarts = {2};
  table.set({96, 320}, gram);
  Recipe tailed = builtin_recipe("polar-express", {64, 64}, 6);
  tailed.normalization = Normalization::schatten4;
  tailed.tail_steps = 1;
  tailed.tail_precision = Precision::fp32;
  table.set({64, 64}, tailed);
  Recipe gram_tf32 = builtin_recipe("you", {20, 33}, 7);
  gram_tf32.form = IterationForm::gram;
  gram_tf32.tail_steps = 2;
  gram_tf32.tail_precision = Precision::tf32;
  table.set({20, 33}, gram_tf32);
  for (Precision p : {Precision::fp32, Precision::bf16}) {
    std::mt19937_64 rng(8);
    std::vector<HostParam> params{{"wide", 1, 96, 320, DType::fp32},
                                  {"tall", 1, 320, 96, DType::fp32},
                                  {"square", 1, 64, 64, DType::fp32},
                                  {"experts", 3, 33, 20, DType::fp32}};
    Stepper stepper(2);
    std::vector<std::vector<ReferenceMatrix>> refs;
    std::vector<std::vector<Eigen::MatrixXd>> theta0;
    std::vector<Recipe> recipes;
    for (HostParam& param : params) {
      const ParamSpec spec = param.spec();
      refs.emplace_back();
      theta0.emplace_back();
      for (int64_t b = 0; b < param.batch(); ++b) {
        param.set_theta(b, random_matrix(spec.rows, spec.cols, rng, 0.05));
        refs.back().push_back({param.theta(b), Eigen::MatrixXd::Zero(spec.rows, spec.cols)});
        theta0.back().push_back(param.theta(b));
      }
      const RecipeLookup lookup = table.lookup({spec.rows, spec.cols});
      ASSERT_EQ(lookup.origin, RecipeLookup::Origin::exact) << spec.name;
      recipes.push_back(lookup.recipe);
      stepper.add(param.spec(), lookup.recipe);
    }
    Hyperparams h;
    h.lr = 0.02f;
    h.precision = p;
    for (int k = 0; k < 10; ++k) {
      for (size_t i = 0; i < params.size(); ++i) {
        const ParamSpec spec = params[i].spec();
        for (int64_t b = 0; b < spec.batch; ++b) {
          params[i].set_grad(b, random_gradient(spec.rows, spec.cols, rng));
          reference_step(refs[i][size_t(b)], params[i].grad(b), h, recipes[i]);
        }
      }
      stepper.backend->step(h, nullptr);
      ASSERT_TRUE(stepper.backend->skipped_last_step().empty());
    }
    for (size_t i = 0; i < params.size(); ++i) {
      const ParamSpec spec = params[i].spec();
      const std::vector<float> momentum = stepper.backend->read_momentum(int64_t(i));
      for (int64_t b = 0; b < spec.batch; ++b) {
        const ReferenceMatrix& r = refs[i][size_t(b)];
        const Eigen::MatrixXd moved = r.theta - theta0[i][size_t(b)];
        const double theta = (params[i].theta(b) - r.theta).norm() / moved.norm();
        Eigen::MatrixXd m(spec.rows, spec.cols);
        for (int64_t e = 0; e < m.size(); ++e)
          m(e / spec.cols, e % spec.cols) = momentum[size_t(b * spec.rows * spec.cols + e)];
        std::printf("[ measured ] %s %s (%s): theta %.3g, momentum %.3g (relative)\n",
                    spec.name.c_str(), to_string(p).c_str(), recipes[i].describe().c_str(), theta,
                    relative_error(m, r.momentum));
        EXPECT_LT(theta, p == Precision::fp32 ? 5e-5 : 6e-2) << spec.name;
        EXPECT_LT(relative_error(m, r.momentum), 1e-6) << spec.name;
      }
    }
  }
}

}  // namespace
}  // namespace rootopt::testing
