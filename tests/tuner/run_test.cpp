// run_tuning: an interrupted run keeps every finished shape in a valid table, --resume
// continues it (refusing one tuned with other settings, and keeping its provenance), threads do
// not change results, and the output path is checked before any work: nothing is written or
// replaced on bad input.
#include <gtest/gtest.h>

#include <unistd.h>
#include <atomic>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>

#include "rootopt/coefficient_table.h"
#include "rootopt/tuner.h"
#include "tuner_test_support.h"

namespace rootopt {
namespace {

class RunTuning : public testing::ScratchDir {
 protected:
  std::string read(const std::string& file) const {
    std::ifstream in(file, std::ios::binary);
    return std::string(std::istreambuf_iterator<char>(in), {});
  }
  // Expects run_tuning to throw InvalidTuneOption for `field`.
  void expect_refused(const TuneRunOptions& run, const TuneOptions& o, const char* field,
                      const char* needle) {
    try {
      run_tuning(run, o);
      ADD_FAILURE() << "accepted (" << needle << ")";
    } catch (const InvalidTuneOption& e) {
      EXPECT_EQ(e.field(), field) << e.what();
      EXPECT_NE(std::string(e.what()).find(needle), std::string::npos) << e.what();
      EXPECT_EQ(std::string(e.what()).find("--"), std::string::npos) << e.what();
    }
  }
};

const std::vector<Shape> kShapes{{32, 64}, {48, 48}, {64, 32}, {24, 96}};  // 64x32 = 32x64

bool same_recipe(const Recipe& a, const Recipe& b) {
  if (a.steps() != b.steps() || a.normalization != b.normalization || a.form != b.form ||
      a.restarts != b.restarts || a.tail_steps != b.tail_steps ||
      (a.tail_steps > 0 && a.tail_precision != b.tail_precision))
    return false;
  for (int64_t k = 0; k < a.steps(); ++k)
    if (std::memcmp(&a.schedule[k], &b.schedule[k], sizeof(QuinticStep)) != 0) return false;
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
  EXPECT_EQ(partial.recipe(0).normalization, Normalization::schatten8);

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
  EXPECT_TRUE(same_recipe(full.recipe(*kept), partial.recipe(0)));
  for (const Shape& s : kShapes) EXPECT_TRUE(full.find(s).has_value());
  // The provenance is the first run's, untouched (its creation time included).
  EXPECT_EQ(full.attributes(), partial.attributes());
}

// Every setting that changes a shape's result must match for --resume; the refused run
// changes nothing on disk.
TEST_F(RunTuning, ResumeRefusesATableTunedWithOtherSettings) {
  const TuneOptions o = testing::fast_options();
  TuneRunOptions run;
  run.shapes = {kShapes[0]};
  run.out_path = path("table.h5");
  run_tuning(run, o);
  const std::string before = read(run.out_path);
  run.shapes = kShapes;
  run.resume = true;
  const std::pair<const char*, std::function<void(TuneOptions&)>> changes[] = {
      {"seed", [](TuneOptions& x) { x.seed += 1; }},
      {"steps", [](TuneOptions& x) { x.recipes.steps = 4; }},
      {"normalizations",
       [](TuneOptions& x) { x.recipes.normalizations = {Normalization::schatten4}; }},
      {"budget", [](TuneOptions& x) { x.recipes.budget = 1.2; }},
      {"forms",
       [](TuneOptions& x) {
         x.recipes.forms = {IterationForm::standard, IterationForm::gram};
       }},
      {"precision_tails", [](TuneOptions& x) { x.recipes.precision_tails = true; }},
      {"heldout_samples", [](TuneOptions& x) { x.heldout_samples += 1; }},
      {"heldout_real", [](TuneOptions& x) { x.heldout_real = make_family("power-law"); }},
      {"validation", [](TuneOptions& x) { x.validation.matrices += 1; }},
      {"envelope_bound", [](TuneOptions& x) { x.envelope_bound = 1.2; }},
      {"search", [](TuneOptions& x) { x.search.guard = 0.5; }},
  };
  for (const auto& [key, change] : changes) {
    TuneOptions other = o;
    change(other);
    try {
      run_tuning(run, other);
      ADD_FAILURE() << "resumed with another " << key;
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find(std::string(key) + " = "), std::string::npos)
          << e.what();
    }
    EXPECT_EQ(read(run.out_path), before) << key;
  }
}

TEST_F(RunTuning, ThreadsGiveTheSameTable) {
  const TuneOptions o = testing::fast_search_options();
  TuneRunOptions run;
  run.shapes = {{32, 64}, {48, 48}, {24, 96}};
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
    EXPECT_TRUE(same_recipe(one.recipe(i), two.recipe(*j))) << one.recipe(i).describe();
    EXPECT_EQ(one.metric(i, "bf16_matrix_rms"), two.metric(*j, "bf16_matrix_rms"));
  }
}

TEST_F(RunTuning, InvalidInputWritesNothing) {
  TuneRunOptions run;
  run.shapes = kShapes;
  run.out_path = path("bad.h5");
  TuneOptions bad = testing::fast_options();
  bad.envelope_bound = 0.5;
  EXPECT_THROW(run_tuning(run, bad), InvalidTuneOption);
  run.shapes = {{0, 64}};
  EXPECT_THROW(run_tuning(run, testing::fast_options()), Error);
  run.shapes = kShapes;
  run.threads = -1;
  expect_refused(run, testing::fast_options(), "threads", "thread count -1");
  run.threads = 99999999999;
  expect_refused(run, testing::fast_options(), "threads", "99999999999");
  run.threads = 1;
  run.out_path = path("no/such/dir/table.h5");
  expect_refused(run, testing::fast_options(), "out_path", "does not exist");
  run.out_path = "";
  expect_refused(run, testing::fast_options(), "out_path", "no output path");
  EXPECT_TRUE(std::filesystem::is_empty(dir_));
}

// The output is checked before any shape is tuned: an existing file is replaced only with
// overwrite (or continued with resume), a directory or a name too long for the atomic save's
// temporary "<name>.tmp.<pid>" fails at once, and a symbolic link stays a link to the new table.
TEST_F(RunTuning, OutputPathIsCheckedBeforeAnyWork) {
  const TuneOptions o = testing::fast_options();
  TuneRunOptions run;
  run.shapes = {kShapes[0]};
  int64_t progress = 0;
  run.on_progress = [&progress](const TuneProgress&) { ++progress; };

  run.out_path = write("existing.h5", "precious");
  expect_refused(run, o, "out_path", "already exists");
  EXPECT_EQ(read(run.out_path), "precious");
  run.overwrite = true;
  run_tuning(run, o);
  EXPECT_EQ(CoefficientTable::load(run.out_path).size(), 1);
  run.overwrite = false;

  run.out_path = dir_.string();
  expect_refused(run, o, "out_path", "is a directory");

  // NAME_MAX is 255 on Linux file systems: a 250-byte name fits, its temporary does not.
  run.out_path = path(std::string(250, 'n'));
  expect_refused(run, o, "out_path", "name too long");
  EXPECT_FALSE(std::filesystem::exists(run.out_path));

  std::filesystem::create_directories(path("target"));
  std::filesystem::create_symlink("target/table.h5", path("link.h5"));
  run.out_path = path("link.h5");
  run_tuning(run, o);  // a dangling link: the table is created where it points
  EXPECT_TRUE(std::filesystem::is_symlink(run.out_path));
  EXPECT_EQ(CoefficientTable::load(path("target/table.h5")).size(), 1);
  run.overwrite = true;
  run.shapes = {kShapes[0], kShapes[1]};
  run_tuning(run, o);
  EXPECT_TRUE(std::filesystem::is_symlink(run.out_path));
  EXPECT_EQ(CoefficientTable::load(path("target/table.h5")).size(), 2);

  if (::geteuid() != 0) {  // root writes anywhere
    std::filesystem::create_directories(path("locked"));
    std::filesystem::permissions(
        path("locked"), std::filesystem::perms::owner_read | std::filesystem::perms::owner_exec);
    run.out_path = path("locked/table.h5");
    expect_refused(run, o, "out_path", "cannot create files");
  }
  EXPECT_EQ(progress, 4);  // only the three successful runs tuned anything: 1 + 1 + 2 shapes
}

}  // namespace
}  // namespace rootopt
