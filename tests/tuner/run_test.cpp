// run_tuning: an interrupted run keeps every finished shape in a valid table, --resume
// continues it (and refuses an incompatible one), threads do not change results, and invalid
// input writes nothing.
#include <gtest/gtest.h>

#include <atomic>
#include <cstring>
#include <filesystem>

#include "rootopt/coefficient_table.h"
#include "rootopt/tuner.h"
#include "tuner_test_support.h"

namespace rootopt {
namespace {

class RunTuning : public testing::ScratchDir {};

const std::vector<Shape> kShapes{{32, 64}, {48, 48}, {64, 32}, {24, 96}};  // 64x32 = 32x64

bool same_schedule(const Schedule& a, const Schedule& b) {
  if (a.size() != b.size()) return false;
  for (int64_t k = 0; k < a.size(); ++k)
    if (std::memcmp(&a[k], &b[k], sizeof(QuinticStep)) != 0) return false;
  return true;
}

TEST_F(RunTuning, InterruptKeepsFinishedShapesAndResumeCompletes) {
  const TuneOptions o = testing::fast_options();
  TuneRunOptions run;
  run.shapes = kShapes;
  run.out_path = path("table.h5");
  std::atomic<bool> cancel{false};
  run.cancel = &cancel;
  // Simulated SIGINT: the flag is raised as soon as the first shape is saved.
  run.on_progress = [&cancel](const TuneProgress& p) {
    EXPECT_EQ(p.total, 3);
    EXPECT_GE(p.eta_seconds, 0.0);
    cancel = true;
  };
  const TuneRunResult interrupted = run_tuning(run, o);
  EXPECT_TRUE(interrupted.cancelled);
  EXPECT_EQ(interrupted.tuned, 1);
  const CoefficientTable partial = CoefficientTable::load(run.out_path);  // valid on disk
  ASSERT_EQ(partial.size(), 1);
  EXPECT_EQ(partial.attributes().at("seed"), std::to_string(o.seed));

  cancel = false;
  run.on_progress = nullptr;
  run.resume = true;
  const TuneRunResult resumed = run_tuning(run, o);
  EXPECT_FALSE(resumed.cancelled);
  EXPECT_EQ(resumed.resumed, 1);
  EXPECT_EQ(resumed.tuned, 2);
  const CoefficientTable full = CoefficientTable::load(run.out_path);
  ASSERT_EQ(full.size(), 3);
  const auto kept = full.find(partial.shapes()[0]);
  ASSERT_TRUE(kept.has_value());
  EXPECT_TRUE(same_schedule(full.recipe(*kept).schedule, partial.recipe(0).schedule));
  for (const Shape& s : kShapes) EXPECT_TRUE(full.find(s).has_value());
  EXPECT_EQ(full.metrics().at("heldout_rms").size(), 3u);

  // Resuming with another seed would mix incompatible schedules: refused, file untouched.
  TuneOptions other = o;
  other.seed = o.seed + 1;
  const auto before = std::filesystem::last_write_time(run.out_path);
  EXPECT_THROW(run_tuning(run, other), Error);
  TuneOptions steps = o;
  steps.recipes.steps = 4;
  EXPECT_THROW(run_tuning(run, steps), Error);
  EXPECT_EQ(std::filesystem::last_write_time(run.out_path), before);
}

TEST_F(RunTuning, ThreadsGiveTheSameTable) {
  const TuneOptions o = testing::fast_options();
  TuneRunOptions run;
  run.shapes = kShapes;
  run.out_path = path("one.h5");
  run.threads = 1;
  const CoefficientTable one = run_tuning(run, o).table;
  run.out_path = path("two.h5");
  run.threads = 2;
  const CoefficientTable two = run_tuning(run, o).table;
  ASSERT_EQ(one.size(), two.size());
  for (int64_t i = 0; i < one.size(); ++i) {
    const auto j = two.find(one.shapes()[size_t(i)]);
    ASSERT_TRUE(j.has_value());
    EXPECT_TRUE(same_schedule(one.recipe(i).schedule, two.recipe(*j).schedule));
  }
}

TEST_F(RunTuning, InvalidInputWritesNothing) {
  TuneRunOptions run;
  run.shapes = kShapes;
  run.out_path = path("bad.h5");
  TuneOptions bad = testing::fast_options();
  bad.envelope_bound = 0.5;
  EXPECT_THROW(run_tuning(run, bad), Error);
  run.shapes = {{0, 64}};
  EXPECT_THROW(run_tuning(run, testing::fast_options()), Error);
  run.shapes = kShapes;
  run.threads = 0;
  EXPECT_THROW(run_tuning(run, testing::fast_options()), Error);
  EXPECT_FALSE(std::filesystem::exists(run.out_path));
  run.threads = 1;
  run.out_path = path("no/such/dir/table.h5");
  EXPECT_THROW(run_tuning(run, testing::fast_options()), Error);
  EXPECT_TRUE(std::filesystem::is_empty(dir_));
}

}  // namespace
}  // namespace rootopt
