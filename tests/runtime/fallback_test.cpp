// Schedules per shape: exact table hits use the table's schedule in either orientation, shapes
// the table lacks follow the fallback policy with exactly one warning per (canonical) shape.
#include <gtest/gtest.h>

#include "rootopt/coefficient_table.h"
#include "rootopt/error.h"
#include "runtime_test_support.h"

namespace rootopt::testing {
namespace {

using RuntimeFallback = RuntimeTest;

int64_t add(Optimizer& opt, std::vector<HostParam>& store, const std::string& name, int64_t rows,
            int64_t cols) {
  store.emplace_back(name, 1, rows, cols, DType::fp32);
  return opt.add_param(store.back().spec());
}

TEST_F(RuntimeFallback, ExactShapesUseTheTableScheduleInEitherOrientation) {
  const std::string table_path = write_table();
  const CoefficientTable table = CoefficientTable::load(table_path);
  Optimizer opt(config(table_path));
  std::vector<HostParam> store;
  store.reserve(8);
  const int64_t wide = add(opt, store, "wide", 7, 300);
  const int64_t tall = add(opt, store, "tall", 300, 7);
  const int64_t odd = add(opt, store, "odd", 100, 257);
  for (const int64_t id : {wide, tall, odd}) {
    const RecipeLookup& lookup = opt.recipe(id);
    EXPECT_EQ(lookup.origin, RecipeLookup::Origin::exact);
    const Shape shape{opt.param(id).rows, opt.param(id).cols};
    const Schedule& expected = table.recipe(*table.find(shape)).schedule;
    ASSERT_EQ(lookup.recipe.schedule.size(), expected.size());
    for (int64_t k = 0; k < expected.size(); ++k) {
      EXPECT_EQ(lookup.recipe.schedule[k].a, expected[k].a);
      EXPECT_EQ(lookup.recipe.schedule[k].b, expected[k].b);
      EXPECT_EQ(lookup.recipe.schedule[k].c, expected[k].c);
    }
  }
  // The table holds different schedules for these shapes, so the lookups really differ.
  EXPECT_NE(opt.recipe(wide).recipe.schedule[0].a, opt.recipe(odd).recipe.schedule[0].a);
  EXPECT_TRUE(warnings.empty());
}

TEST_F(RuntimeFallback, OneWarningPerMissingShape) {
  Optimizer opt(config(write_table()));
  std::vector<HostParam> store;
  store.reserve(8);
  add(opt, store, "exact", 64, 64);
  const int64_t first = add(opt, store, "layer0", 33, 20);
  add(opt, store, "layer1", 33, 20);
  add(opt, store, "layer1_t", 20, 33);
  add(opt, store, "small", 5, 5);
  add(opt, store, "small2", 5, 5);
  ASSERT_EQ(warnings.size(), 2u);
  EXPECT_NE(warnings[0].find("33x20"), std::string::npos) << warnings[0];
  EXPECT_NE(warnings[0].find("layer0"), std::string::npos) << warnings[0];
  EXPECT_NE(warnings[1].find("5x5"), std::string::npos) << warnings[1];
  EXPECT_EQ(opt.recipe(first).origin, RecipeLookup::Origin::nearest);
  EXPECT_EQ(opt.num_params(), 6);
}

TEST_F(RuntimeFallback, ErrorPolicyRejectsMissingShapeWithoutRegistering) {
  OptimizerConfig c = config(write_table());
  c.fallback.kind = FallbackPolicy::Kind::error;
  Optimizer opt(c);
  std::vector<HostParam> store;
  store.reserve(4);
  add(opt, store, "exact", 64, 64);
  EXPECT_THROW(add(opt, store, "missing", 33, 20), Error);
  EXPECT_EQ(opt.num_params(), 1);
  EXPECT_TRUE(warnings.empty());
}

TEST_F(RuntimeFallback, WithoutTableEveryShapeUsesTheNamedScheduleAndWarnsOnce) {
  OptimizerConfig c = config("");
  c.fallback.schedule_name = "muon";
  Optimizer opt(c);
  std::vector<HostParam> store;
  store.reserve(4);
  const int64_t id = add(opt, store, "a", 64, 64);
  add(opt, store, "b", 64, 64);
  add(opt, store, "c", 7, 300);
  EXPECT_EQ(warnings.size(), 2u);
  EXPECT_EQ(opt.recipe(id).origin, RecipeLookup::Origin::named);
  EXPECT_EQ(opt.recipe(id).recipe.schedule[0].a, builtin_schedule("muon", {64, 64})[0].a);
  c.fallback.schedule_name = "no-such-schedule";
  EXPECT_THROW(Optimizer bad(c), Error);
  OptimizerConfig with_table = config(write_table());
  with_table.fallback = {FallbackPolicy::Kind::named, "no-such-schedule"};
  EXPECT_THROW(Optimizer bad(with_table), Error);
}

// A table recipe that loads but leaves the envelope (issue 12, item 3: the ROOT paper's
// 2048x2048 triple reaches 3.31) is named once, with the table and the first parameter using it.
TEST_F(RuntimeFallback, SuspiciousTableRecipesAreWarnedOncePerShape) {
  CoefficientTable table;
  table.set({64, 64}, builtin_schedule("root-paper", {2048, 2048}, 5));
  table.set({8, 8}, builtin_schedule("polar-express", {8, 8}, 5));
  table.save(path("t.h5"));
  Optimizer opt(config(path("t.h5")));
  std::vector<HostParam> store;
  store.reserve(8);
  add(opt, store, "fine", 8, 8);
  add(opt, store, "first", 64, 64);
  add(opt, store, "second", 64, 64);
  add(opt, store, "near", 60, 70);  // nearest: 64x64 again, already warned
  ASSERT_EQ(warnings.size(), 2u);   // the recipe once, and the fallback for 60x70
  EXPECT_NE(warnings[0].find("t.h5"), std::string::npos) << warnings[0];
  EXPECT_NE(warnings[0].find("recipe for 64x64 (first used by 'first')"), std::string::npos)
      << warnings[0];
  EXPECT_NE(warnings[0].find("reaches 3.31"), std::string::npos) << warnings[0];
  EXPECT_NE(warnings[1].find("60x70"), std::string::npos) << warnings[1];
}

}  // namespace
}  // namespace rootopt::testing
