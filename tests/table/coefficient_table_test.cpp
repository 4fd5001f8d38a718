// CoefficientTable: bit-exact round trip, the on-disk layout, lookups in both orientations,
// fallbacks, and atomic saves.
#include "rootopt/coefficient_table.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <filesystem>
#include <limits>
#include <random>
#include <set>
#include <stdexcept>

#include "h5.h"
#include "table_test_support.h"

namespace fs = std::filesystem;
namespace h5 = rootopt::h5;
using rootopt::CoefficientTable;
using rootopt::FallbackPolicy;
using rootopt::QuinticStep;
using rootopt::Schedule;
using rootopt::RecipeLookup;
using rootopt::Shape;
using rootopt::testing::expect_error;

namespace {

using TableTest = rootopt::testing::ScratchDirTest;

Schedule random_schedule(std::mt19937_64& rng, int64_t steps) {
  std::normal_distribution<double> normal;
  std::vector<QuinticStep> list;
  for (int64_t k = 0; k < steps; ++k)
    list.push_back({3 + normal(rng), -4 + normal(rng), 2 + normal(rng) * 1e-3});
  return Schedule("random", list);
}

bool same_bits(double x, double y) { return std::memcmp(&x, &y, sizeof x) == 0; }

TEST_F(TableTest, RoundTripIsBitExact) {
  std::mt19937_64 rng(20261123);
  for (int64_t steps : {1, 5, 8}) {
    CoefficientTable table;
    std::uniform_int_distribution<int64_t> dim(1, 8192);
    std::uniform_real_distribution<double> unit(0, 1);
    std::map<Shape, Schedule> expected;
    while (table.size() < 17) {
      const Shape shape{dim(rng), dim(rng)};  // either orientation; stored canonical
      const Schedule schedule = random_schedule(rng, steps);
      std::map<std::string, double> metrics = {{"fit_rms", unit(rng) * 1e-3},
                                               {"envelope", 1 + unit(rng)}};
      if (unit(rng) < 0.5) metrics["heldout_rms"] = unit(rng) / 3;  // sometimes missing
      table.set(shape, schedule, metrics);
      expected.insert_or_assign(shape.canonical(), schedule);
    }
    table.attributes()["seed"] = "12345";
    table.attributes()["objective"] = "rms + 0.1 * envelope";
    table.attributes()["families"] = "marchenko-pastur(ratio=auto);power-law(alpha=[0.5,2])";
    const std::string file = path("t" + std::to_string(steps) + ".h5");
    table.save(file);
    EXPECT_FALSE(fs::exists(h5::temporary_path(file)));

    const CoefficientTable loaded = CoefficientTable::load(file);
    ASSERT_EQ(loaded.shapes(), table.shapes());
    for (int64_t i = 0; i < loaded.size(); ++i) {
      const Schedule& want = expected.at(loaded.shapes()[size_t(i)]);
      ASSERT_EQ(loaded.recipe(i).schedule.size(), steps);
      for (int64_t k = 0; k < steps; ++k) {
        EXPECT_TRUE(same_bits(loaded.recipe(i).schedule[k].a, want[k].a));
        EXPECT_TRUE(same_bits(loaded.recipe(i).schedule[k].b, want[k].b));
        EXPECT_TRUE(same_bits(loaded.recipe(i).schedule[k].c, want[k].c));
      }
    }
    ASSERT_EQ(loaded.metrics().size(), 3u);
    for (const auto& [name, column] : table.metrics()) {
      const auto& got = loaded.metrics().at(name);
      ASSERT_EQ(got.size(), column.size());
      for (size_t i = 0; i < column.size(); ++i) EXPECT_TRUE(same_bits(got[i], column[i])) << name;
    }
    for (const auto& [name, value] : table.attributes())
      EXPECT_EQ(loaded.attributes().at(name), value);
    // The writer adds the provenance every table carries.
    EXPECT_FALSE(loaded.attributes().at("rootopt_version").empty());
    EXPECT_FALSE(loaded.attributes().at("created").empty());
  }
}

// The layout other tools rely on (h5py, h5dump, the Python package): names, types, extents.
TEST_F(TableTest, OnDiskLayoutMatchesTheFormat) {
  std::mt19937_64 rng(7);
  CoefficientTable table;
  table.set({4096, 1024}, random_schedule(rng, 5), {{"fit_rms", 0.01}});
  table.set({768, 768}, random_schedule(rng, 5));
  table.save(path("t.h5"));
  h5::Id file = h5::open_file(path("t.h5"));
  EXPECT_EQ(h5::read_string_attribute(file, "format", "t"), "rootopt.coefficients");
  EXPECT_EQ(h5::read_int_attribute(file, "format_version", "t"), 1);
  EXPECT_EQ(h5::read_int_attribute(file, "steps", "t"), 5);
  h5::Id shapes = h5::open_dataset(file, "/shapes", "t");
  EXPECT_EQ(h5::type_class(shapes), H5T_INTEGER);
  EXPECT_EQ(h5::type_size(shapes), 8u);
  EXPECT_EQ(h5::dims(shapes), (std::vector<hsize_t>{2, 2}));
  EXPECT_EQ(h5::read_int64s(shapes, "shapes"), (std::vector<int64_t>{768, 768, 1024, 4096}));
  h5::Id coefficients = h5::open_dataset(file, "/coefficients", "t");
  EXPECT_EQ(h5::type_class(coefficients), H5T_FLOAT);
  EXPECT_EQ(h5::type_size(coefficients), 8u);
  EXPECT_EQ(h5::dims(coefficients), (std::vector<hsize_t>{2, 5, 3}));
  const auto values = h5::read_doubles(coefficients, "coefficients");
  const Schedule& s1 = table.recipe(1).schedule;  // 1024x4096, second row
  EXPECT_EQ(values[15 + 3 * 2 + 1], s1[2].b);
  h5::Id metric = h5::open_dataset(file, "/metrics/fit_rms", "t");
  const auto fit = h5::read_doubles(metric, "fit_rms");
  ASSERT_EQ(fit.size(), 2u);
  EXPECT_TRUE(std::isnan(fit[0]));  // 768x768 has no value
  EXPECT_EQ(fit[1], 0.01);
}

TEST_F(TableTest, EmptyTableRoundTrips) {
  CoefficientTable().save(path("empty.h5"));
  const auto loaded = CoefficientTable::load(path("empty.h5"));
  EXPECT_EQ(loaded.size(), 0);
  EXPECT_TRUE(loaded.metrics().empty());
}

TEST_F(TableTest, SetValidatesAndReplaces) {
  std::mt19937_64 rng(3);
  CoefficientTable table;
  expect_error([&] { table.set({0, 4096}, random_schedule(rng, 5)); }, {"0x4096", "zero"});
  expect_error([&] { table.set({8, 8}, random_schedule(rng, 5), {{"a/b", 1.0}}); }, {"a/b"});
  table.set({1024, 4096}, random_schedule(rng, 5), {{"fit_rms", 0.5}});
  const Schedule replacement = random_schedule(rng, 5);
  table.set({4096, 1024}, replacement, {{"envelope", 1.2}});
  ASSERT_EQ(table.size(), 1);
  EXPECT_EQ(table.recipe(0).schedule[3].a, replacement[3].a);
  EXPECT_EQ(table.metric(0, "envelope"), 1.2);
  EXPECT_EQ(table.metric(0, "fit_rms"), std::nullopt);  // replaced entry drops old metrics
  EXPECT_EQ(table.metric(0, "absent"), std::nullopt);
  table.attributes()["format"] = "mine";
  expect_error([&] { table.save(path("t.h5")); }, {"t.h5", "'format'", "reserved"});
}

TEST_F(TableTest, LookupInEitherOrientation) {
  std::mt19937_64 rng(11);
  CoefficientTable table;
  const Schedule wide = random_schedule(rng, 5);
  table.set({1024, 4096}, wide);
  table.set({512, 512}, random_schedule(rng, 5));
  ASSERT_TRUE(table.find({1024, 4096}).has_value());
  EXPECT_EQ(table.find({4096, 1024}), table.find({1024, 4096}));
  EXPECT_FALSE(table.find({1024, 1024}).has_value());
  for (const Shape asked : {Shape{1024, 4096}, Shape{4096, 1024}}) {
    const RecipeLookup hit = table.lookup(asked, {FallbackPolicy::Kind::error, ""});
    EXPECT_EQ(hit.origin, RecipeLookup::Origin::exact);
    EXPECT_EQ(hit.requested, asked);
    EXPECT_EQ(hit.source, (Shape{1024, 4096}));
    EXPECT_EQ(hit.recipe.schedule[4].c, wide[4].c);
    EXPECT_NE(hit.description().find("1024x4096"), std::string::npos);
  }
  EXPECT_NE(table.lookup({4096, 1024}).description().find("transposed"), std::string::npos);
  expect_error([&] { table.lookup({0, 3}); }, {"0x3"});
}

// Reference distance written out independently: Euclidean in (log2 rows, log2 aspect).
double reference_distance(Shape a, Shape b) {
  const double ra = std::min(a.rows, a.cols), ca = std::max(a.rows, a.cols);
  const double rb = std::min(b.rows, b.cols), cb = std::max(b.rows, b.cols);
  const double d1 = std::log(ra / rb) / std::log(2.0);
  const double d2 = std::log((ca / ra) / (cb / rb)) / std::log(2.0);
  return std::sqrt(d1 * d1 + d2 * d2);
}

TEST(ShapeDistance, MatchesSizeAndAspect) {
  EXPECT_DOUBLE_EQ(rootopt::shape_distance({512, 512}, {1024, 1024}), 1.0);
  EXPECT_DOUBLE_EQ(rootopt::shape_distance({1024, 1024}, {1024, 4096}), 2.0);
  EXPECT_EQ(rootopt::shape_distance({4096, 1024}, {1024, 4096}), 0.0);
  std::mt19937_64 rng(5);
  std::uniform_int_distribution<int64_t> dim(1, 20000);
  for (int i = 0; i < 200; ++i) {
    const Shape a{dim(rng), dim(rng)}, b{dim(rng), dim(rng)};
    // Two log evaluations per term: agreement to ~1e-12 absolute on values of order 10.
    EXPECT_NEAR(rootopt::shape_distance(a, b), reference_distance(a, b), 1e-12);
    EXPECT_EQ(rootopt::shape_distance(a, b), rootopt::shape_distance(b, a));
  }
}

TEST_F(TableTest, NearestFallbackPicksTheClosestTunedShape) {
  std::mt19937_64 rng(13);
  CoefficientTable table;
  const std::vector<Shape> tuned = {
      {256, 256}, {768, 3072}, {1024, 4096}, {4096, 4096}, {2048, 5632}};
  for (Shape s : tuned) table.set(s, random_schedule(rng, 5));
  std::uniform_int_distribution<int64_t> dim(16, 16384);
  for (int trial = 0; trial < 100; ++trial) {
    const Shape asked{dim(rng), dim(rng)};
    if (table.find(asked)) continue;
    Shape best = tuned[0];
    for (Shape s : tuned)
      if (reference_distance(asked, s) < reference_distance(asked, best)) best = s;
    const RecipeLookup got = table.lookup(asked);  // default policy: nearest
    EXPECT_EQ(got.origin, RecipeLookup::Origin::nearest);
    EXPECT_EQ(got.source, best) << rootopt::to_string(asked);
    EXPECT_EQ(got.requested, asked);
    const int64_t index = *table.find(best);
    EXPECT_EQ(got.recipe.schedule[0].a, table.recipe(index).schedule[0].a);
    EXPECT_NE(got.description().find("nearest tuned shape " + rootopt::to_string(best)),
              std::string::npos)
        << got.description();
  }
}

TEST_F(TableTest, NamedAndErrorFallbacks) {
  std::mt19937_64 rng(17);
  CoefficientTable table;
  table.set({1024, 4096}, random_schedule(rng, 4));
  const Shape asked{3000, 700};
  const RecipeLookup named = table.lookup(asked, {FallbackPolicy::Kind::named, "muon", 4});
  EXPECT_EQ(named.origin, RecipeLookup::Origin::named);
  ASSERT_EQ(named.recipe.schedule.size(), 4);  // the policy's step count
  const Schedule muon = rootopt::builtin_schedule("muon", asked, 4);
  for (int64_t k = 0; k < 4; ++k) EXPECT_EQ(named.recipe.schedule[k].a, muon[k].a);
  EXPECT_NE(named.description().find("muon"), std::string::npos) << named.description();
  expect_error(
      [&] {
        table.lookup(asked, {FallbackPolicy::Kind::error, ""});
      },
      {"3000x700", "'error'"});
  expect_error(
      [&] {
        table.lookup(asked, {FallbackPolicy::Kind::named, "no-such-schedule"});
      },
      {"no-such-schedule"});
}

// With no tuned shape to be near, `nearest` uses the policy's named built-in (documented).
TEST_F(TableTest, NearestOnEmptyTableFallsBackToNamedSchedule) {
  const CoefficientTable table;
  const RecipeLookup got = table.lookup({1024, 4096});
  EXPECT_EQ(got.origin, RecipeLookup::Origin::named);
  const Schedule expected = rootopt::builtin_schedule("polar-express", {1024, 4096}, 5);
  ASSERT_EQ(got.recipe.schedule.size(), 5);
  for (int64_t k = 0; k < 5; ++k) EXPECT_EQ(got.recipe.schedule[k].b, expected[k].b);
}

// Numeric provenance written by other tools (e.g. h5py `attrs["seed"] = 42`) loads as text.
TEST_F(TableTest, NumericProvenanceAttributesLoadAsText) {
  CoefficientTable().save(path("t.h5"));
  {
    h5::Id file(H5Fopen(path("t.h5").c_str(), H5F_ACC_RDWR, H5P_DEFAULT), H5Fclose);
    ASSERT_GE(file.get(), 0);
    h5::write_attribute(file, "seed", int64_t{42});
    h5::write_attribute(file, "envelope_bound", 1.25);
  }
  const auto loaded = CoefficientTable::load(path("t.h5"));
  EXPECT_EQ(loaded.attributes().at("seed"), "42");
  EXPECT_EQ(std::stod(loaded.attributes().at("envelope_bound")), 1.25);
}

TEST_F(TableTest, InterruptedWriteKeepsThePreviousTable) {
  std::mt19937_64 rng(19);
  CoefficientTable table;
  table.set({1024, 4096}, random_schedule(rng, 5), {{"fit_rms", 0.25}});
  table.save(path("t.h5"));
  // A writer that dies halfway through writing a new table at the same path.
  EXPECT_THROW(h5::write_atomically(path("t.h5"),
                                    [](hid_t file) {
                                      h5::write_attribute(file, "format",
                                                          std::string(rootopt::kTableFormat));
                                      const int64_t shape[2] = {8, 8};
                                      h5::write_int64s(file, "shapes", {1, 2}, shape);
                                      throw std::runtime_error("killed");
                                    }),
               std::runtime_error);
  EXPECT_FALSE(fs::exists(h5::temporary_path(path("t.h5"))));
  const auto loaded = CoefficientTable::load(path("t.h5"));
  ASSERT_EQ(loaded.size(), 1);
  EXPECT_EQ(loaded.shapes()[0], (Shape{1024, 4096}));
  EXPECT_EQ(loaded.metric(0, "fit_rms"), 0.25);
  // A stale temporary (from a process killed outright) does not block the next save.
  CoefficientTable().save(h5::temporary_path(path("t.h5")));
  table.save(path("t.h5"));
  EXPECT_FALSE(fs::exists(h5::temporary_path(path("t.h5"))));
  EXPECT_EQ(CoefficientTable::load(path("t.h5")).size(), 1);
}

// A save whose final rename fails (the target is a non-empty directory) reports both paths and
// removes its temporary.
TEST_F(TableTest, FailedCommitLeavesNoTemporary) {
  fs::create_directories(path("t.h5/occupied"));
  expect_error([&] { CoefficientTable().save(path("t.h5")); }, {"t.h5.tmp.", "t.h5"});
  EXPECT_FALSE(fs::exists(h5::temporary_path(path("t.h5"))));
  EXPECT_TRUE(fs::is_directory(path("t.h5/occupied")));
}

}  // namespace
