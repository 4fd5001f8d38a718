// Shapes, precisions and the built-in schedules against the published coefficient sets
// (../shared/reference/coefficients.md; the values typed here are the published facts).
#include <gtest/gtest.h>

#include <cmath>

#include "rootopt/error.h"
#include "rootopt/precision.h"
#include "rootopt/schedule.h"

namespace rootopt {
namespace {

void expect_step(const QuinticStep& step, double a, double b, double c) {
  EXPECT_EQ(step.a, a);
  EXPECT_EQ(step.b, b);
  EXPECT_EQ(step.c, c);
}

TEST(Shape, ParsesAndRejects) {
  EXPECT_EQ(parse_shape("1024x4096"), (Shape{1024, 4096}));
  EXPECT_EQ(parse_shape("3X5"), (Shape{3, 5}));
  EXPECT_EQ(parse_shape("7*2").canonical(), (Shape{2, 7}));
  EXPECT_EQ(to_string(Shape{12, 34}), "12x34");
  for (const char* bad :
       {"", "1024", "x5", "5x", "0x5", "5x0", "-1x5", "5x5x5", "ax5", "5x99999999"})
    EXPECT_THROW(parse_shape(bad), Error) << bad;
}

TEST(Precision, ParsesAndRoundTrips) {
  for (Precision p : {Precision::fp64, Precision::fp32, Precision::bf16})
    EXPECT_EQ(parse_precision(to_string(p)), p);
  EXPECT_THROW(parse_precision("fp16"), Error);
}

TEST(Schedule, RejectsEmptyAndNonFinite) {
  EXPECT_THROW(Schedule("x", {}), Error);
  EXPECT_THROW(Schedule("x", {{1, 2, std::nan("")}}), Error);
  EXPECT_THROW(Schedule::shared("x", {1, 2, 3}, 0), Error);
}

TEST(Schedule, WithStepsTruncatesOrRepeatsLast) {
  const Schedule s("s", {{1, 0, 0}, {2, 0, 0}, {3, 0, 0}});
  EXPECT_EQ(s.with_steps(2).size(), 2);
  EXPECT_EQ(s.with_steps(2)[1].a, 2);
  const Schedule longer = s.with_steps(5);
  EXPECT_EQ(longer.size(), 5);
  EXPECT_EQ(longer[4].a, 3);
  EXPECT_FALSE(s.is_shared());
  EXPECT_TRUE(Schedule::shared("m", {1, 2, 3}, 4).is_shared());
  EXPECT_DOUBLE_EQ(s.map(0.5), 0.5 * 1 * 2 * 3);  // linear steps compose to a product
}

TEST(BuiltinSchedules, NamesAndUnknown) {
  const auto names = builtin_schedule_names();
  EXPECT_EQ(names, (std::vector<std::string>{"muon", "polar-express", "you", "root-paper"}));
  for (const auto& name : names) EXPECT_EQ(builtin_schedule(name, {64, 64}).size(), 5);
  EXPECT_THROW(builtin_schedule("nope", {64, 64}), Error);
  EXPECT_THROW(builtin_is_published_for("nope", {64, 64}), Error);
}

TEST(BuiltinSchedules, MuonIsSharedTriple) {
  const Schedule muon = builtin_schedule("muon", {10, 20}, 7);
  EXPECT_EQ(muon.size(), 7);
  EXPECT_TRUE(muon.is_shared());
  expect_step(muon[6], 3.4445, -4.7750, 2.0315);
}

TEST(BuiltinSchedules, PolarExpressListAndRepeat) {
  const Schedule pe = builtin_schedule("polar-express", {10, 20}, 10);
  // Published list with the code's safety factor: (a/1.01, b/1.01^3, c/1.01^5), last triple raw.
  // Within 4 ulp: the powers of 1.01 may be formed in another order than here.
  const auto expect_safe = [](const QuinticStep& step, double a, double b, double c) {
    const double f = 1.01;
    EXPECT_DOUBLE_EQ(step.a, a / f);
    EXPECT_DOUBLE_EQ(step.b, b / (f * f * f));
    EXPECT_DOUBLE_EQ(step.c, c / (f * f * f * f * f));
  };
  expect_safe(pe[0], 8.28721201814563, -23.595886519098837, 17.300387312530933);
  expect_safe(pe[4], 2.300652019954817, -1.6689039845747493, 0.4188073119525673);
  expect_step(pe[7], 1.875, -1.25, 0.375);
  expect_step(pe[9], 1.875, -1.25, 0.375);  // beyond the list: last triple repeated
}

TEST(BuiltinSchedules, YouPerStepSet) {
  const Schedule you = builtin_schedule("you", {10, 20});
  expect_step(you[0], 4.0848, -6.8946, 2.9270);
  expect_step(you[2], 3.7418, -5.5913, 2.3037);
  expect_step(you[4], 2.8366, -3.0525, 1.2012);
}

TEST(BuiltinSchedules, RootPaperPerShapeWithMuonFallback) {
  expect_step(builtin_schedule("root-paper", {2048, 2048})[0], 3.4916, -4.8224, 2.1095);
  expect_step(builtin_schedule("root-paper", {3072, 2048})[4], 3.4509, -4.5790, 1.9325);
  expect_step(builtin_schedule("root-paper", {2048, 8192})[0], 2.9794, -3.6674, 1.6207);
  expect_step(builtin_schedule("root-paper", {16384, 2048})[0], 3.1943, -3.8221, 1.5322);
  expect_step(builtin_schedule("root-paper", {1024, 4096})[0], 3.4445, -4.7750, 2.0315);
  EXPECT_TRUE(builtin_is_published_for("root-paper", {8192, 2048}));
  EXPECT_FALSE(builtin_is_published_for("root-paper", {1024, 4096}));
  EXPECT_TRUE(builtin_is_published_for("muon", {1024, 4096}));
}

}  // namespace
}  // namespace rootopt
