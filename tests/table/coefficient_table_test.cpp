// CoefficientTable: bit-exact round trip of every recipe field, the version-2 layout on disk,
// version-1 tables, lookups in both orientations, fallbacks, and atomic saves.
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
#include "table_v1_writer.h"

namespace fs = std::filesystem;
namespace h5 = rootopt::h5;
using rootopt::CoefficientTable;
using rootopt::FallbackPolicy;
using rootopt::IterationForm;
using rootopt::Normalization;
using rootopt::Precision;
using rootopt::QuinticStep;
using rootopt::Recipe;
using rootopt::RecipeLookup;
using rootopt::Schedule;
using rootopt::Shape;
using rootopt::testing::expect_error;

namespace {

using TableTest = rootopt::testing::ScratchDirTest;

// Polar Express with every coefficient perturbed by a relative 1e-3: random bits, and a map that
// passes the load-time checks (its envelope stays near Polar Express's).
Schedule random_schedule(std::mt19937_64& rng, int64_t steps) {
  std::normal_distribution<double> normal;
  std::vector<QuinticStep> list;
  const Schedule base = rootopt::builtin_schedule("polar-express", {1, 1}, steps);
  for (const QuinticStep& st : base.steps())
    list.push_back({st.a * (1 + 1e-3 * normal(rng)), st.b * (1 + 1e-3 * normal(rng)),
                    st.c * (1 + 1e-3 * normal(rng))});
  return Schedule("random", list);
}

// A random valid recipe: any K, normalization, form, restarts (gram form), tail.
Recipe random_recipe(std::mt19937_64& rng) {
  std::uniform_int_distribution<int64_t> steps(1, 9);
  std::uniform_int_distribution<int> pick(0, 2);
  Recipe recipe(random_schedule(rng, steps(rng)));
  const int64_t k = recipe.steps();
  recipe.normalization = std::vector<Normalization>{
      Normalization::frobenius, Normalization::schatten4, Normalization::schatten8}[pick(rng)];
  recipe.form = pick(rng) == 0 ? IterationForm::standard : IterationForm::gram;
  if (recipe.form == IterationForm::gram)
    for (int64_t after = 1; after < k; ++after)
      if (pick(rng) == 0) recipe.restarts.push_back(after);
  recipe.tail_steps = std::uniform_int_distribution<int64_t>(0, k)(rng);
  recipe.tail_precision = pick(rng) == 0 ? Precision::tf32 : Precision::fp32;
  return recipe;
}

bool same_bits(double x, double y) { return std::memcmp(&x, &y, sizeof x) == 0; }

void expect_same_recipe(const Recipe& got, const Recipe& want) {
  ASSERT_EQ(got.steps(), want.steps());
  for (int64_t k = 0; k < want.steps(); ++k) {
    EXPECT_TRUE(same_bits(got.schedule[k].a, want.schedule[k].a));
    EXPECT_TRUE(same_bits(got.schedule[k].b, want.schedule[k].b));
    EXPECT_TRUE(same_bits(got.schedule[k].c, want.schedule[k].c));
  }
  EXPECT_EQ(got.normalization, want.normalization);
  EXPECT_EQ(got.form, want.form);
  EXPECT_EQ(got.restarts, want.restarts);
  EXPECT_EQ(got.tail_steps, want.tail_steps);
  EXPECT_EQ(got.tail_precision, want.tail_precision);
}

TEST_F(TableTest, RoundTripIsBitExact) {
  std::mt19937_64 rng(20261123);
  for (int trial = 0; trial < 3; ++trial) {
    CoefficientTable table;
    std::uniform_int_distribution<int64_t> dim(1, 8192);
    std::uniform_real_distribution<double> unit(0, 1);
    std::map<Shape, Recipe> expected;
    while (table.size() < 17) {
      const Shape shape{dim(rng), dim(rng)};  // either orientation; stored canonical
      const Recipe recipe = random_recipe(rng);
      std::map<std::string, double> metrics = {{"fit_rms", unit(rng) * 1e-3},
                                               {"envelope", 1 + unit(rng)}};
      if (unit(rng) < 0.5) metrics["heldout_rms"] = unit(rng) / 3;  // sometimes missing
      table.set(shape, recipe, metrics);
      expected.insert_or_assign(shape.canonical(), recipe);
    }
    table.attributes()["seed"] = "12345";
    table.attributes()["objective"] = "rms + 0.1 * envelope";
    table.attributes()["families"] = "marchenko-pastur(ratio=auto);power-law(alpha=[0.5,2])";
    table.attributes()["note"] = "héllo, wörld ✓";  // UTF-8 survives
    table.attributes()["empty"] = "";
    const std::string file = path("t" + std::to_string(trial) + ".h5");
    table.save(file);
    EXPECT_FALSE(fs::exists(h5::temporary_path(file)));

    const CoefficientTable loaded = CoefficientTable::load(file);
    EXPECT_EQ(loaded.loaded_version(), 2);
    ASSERT_EQ(loaded.shapes(), table.shapes());
    for (int64_t i = 0; i < loaded.size(); ++i)
      expect_same_recipe(loaded.recipe(i), expected.at(loaded.shapes()[size_t(i)]));
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

// The version-2 layout other tools rely on (h5py, h5dump, the Python package): names, types,
// extents, codes, padding, and nothing else at the root.
TEST_F(TableTest, OnDiskLayoutMatchesTheFormat) {
  std::mt19937_64 rng(7);
  CoefficientTable table;
  Recipe gram(random_schedule(rng, 3));
  gram.normalization = Normalization::schatten8;
  gram.form = IterationForm::gram;
  gram.restarts = {2};
  gram.tail_steps = 1;
  gram.tail_precision = Precision::tf32;
  table.set({4096, 1024}, gram, {{"fit_rms", 0.01}});
  table.set({768, 768}, random_schedule(rng, 5), {{"envelope", 1.25}});
  table.attributes()["seed"] = "7";
  table.save(path("t.h5"));
  h5::Id file = h5::open_file(path("t.h5"));
  h5::Id root(H5Oopen(file, "/", H5P_DEFAULT), H5Oclose);
  EXPECT_EQ(H5Aget_num_attrs(root), 2);  // format and format_version: nothing else to iterate
  EXPECT_FALSE(rootopt::testing::is_variable_length_string(file, "format"));
  EXPECT_EQ(h5::read_string_attribute(file, "format", "t"), "rootopt.coefficients");
  EXPECT_EQ(h5::read_int_attribute(file, "format_version", "t"), 2);
  const auto ints = [&](const char* name, std::vector<hsize_t> extents) {
    h5::Id set = h5::open_dataset(file, name, "t");
    EXPECT_EQ(h5::type_class(set), H5T_INTEGER) << name;
    EXPECT_EQ(h5::type_size(set), 8u) << name;
    EXPECT_EQ(h5::dims(set), extents) << name;
    return h5::read_int64s(set, name);
  };
  EXPECT_EQ(ints("shapes", {2, 2}), (std::vector<int64_t>{768, 768, 1024, 4096}));
  EXPECT_EQ(ints("steps", {2}), (std::vector<int64_t>{5, 3}));
  EXPECT_EQ(ints("normalization", {2}), (std::vector<int64_t>{0, 2}));
  EXPECT_EQ(ints("form", {2}), (std::vector<int64_t>{0, 1}));
  EXPECT_EQ(ints("restart_after", {2, 5}), (std::vector<int64_t>{0, 0, 0, 0, 0, 0, 1, 0, 0, 0}));
  EXPECT_EQ(ints("tail_steps", {2}), (std::vector<int64_t>{0, 1}));
  EXPECT_EQ(ints("tail_precision", {2}), (std::vector<int64_t>{0, 1}));
  h5::Id coefficients = h5::open_dataset(file, "/coefficients", "t");
  EXPECT_EQ(h5::type_class(coefficients), H5T_FLOAT);
  EXPECT_EQ(h5::type_size(coefficients), 8u);
  EXPECT_EQ(h5::dims(coefficients), (std::vector<hsize_t>{2, 5, 3}));
  const auto values = h5::read_doubles(coefficients, "coefficients");
  EXPECT_EQ(values[15 + 3 * 2 + 1], gram.schedule[2].b);  // 1024x4096 (row 1), step 3, b
  for (size_t j = 15 + 9; j < 30; ++j) EXPECT_TRUE(std::isnan(values[j])) << j;  // padding
  h5::Id names = h5::open_dataset(file, "/metric_names", "t");
  EXPECT_EQ(h5::read_strings(names, "metric_names", 64),
            (std::vector<std::string>{"envelope", "fit_rms"}));
  h5::Id metrics = h5::open_dataset(file, "/metrics", "t");
  EXPECT_EQ(h5::dims(metrics), (std::vector<hsize_t>{2, 2}));
  const auto metric_values = h5::read_doubles(metrics, "metrics");
  EXPECT_EQ(metric_values[0], 1.25);                                          // 768x768 envelope
  EXPECT_TRUE(std::isnan(metric_values[1]) && std::isnan(metric_values[2]));  // not measured
  EXPECT_EQ(metric_values[3], 0.01);
  h5::Id provenance = h5::open_dataset(file, "/provenance", "t");
  const auto pairs = h5::read_strings(provenance, "provenance", 256);
  EXPECT_EQ(h5::dims(provenance), (std::vector<hsize_t>{3, 2}));
  EXPECT_EQ(pairs[0], "created");
  EXPECT_EQ(pairs[2], "rootopt_version");
  EXPECT_EQ(pairs[4], "seed");
  EXPECT_EQ(pairs[5], "7");
  // Every dataset is checksummed.
  for (const char* name :
       {"shapes", "steps", "coefficients", "normalization", "form", "restart_after", "tail_steps",
        "tail_precision", "metrics", "metric_names", "provenance"}) {
    h5::Id set = h5::open_dataset(file, name, "t");
    h5::Id props(H5Dget_create_plist(set), H5Pclose);
    unsigned flags = 0;
    EXPECT_GE(H5Pget_filter_by_id2(props, H5Z_FILTER_FLETCHER32, &flags, nullptr, nullptr, 0,
                                   nullptr, nullptr),
              0)
        << name;
  }
}

// A version-1 table (as rootopt wrote them before version 2) loads as Frobenius, standard form,
// the table's K; provenance by its known names, numbers as text. Saving it writes version 2.
TEST_F(TableTest, VersionOneTablesLoad) {
  std::mt19937_64 rng(29);
  rootopt::testing::TableV1 v1;
  v1.steps = 4;
  v1.shapes = {768, 3072, 256, 256};
  std::vector<Schedule> schedules = {random_schedule(rng, 4), random_schedule(rng, 4)};
  for (const Schedule& s : schedules)
    for (const QuinticStep& st : s.steps())
      v1.coefficients.insert(v1.coefficients.end(), {st.a, st.b, st.c});
  v1.metrics["fit_rms"] = {0.125, std::numeric_limits<double>::quiet_NaN()};
  v1.text["created"] = "2026-01-01T00:00:00Z";
  v1.text["unrelated"] = "x";
  v1.numbers["seed"] = 42;
  rootopt::testing::write_table_v1(path("v1.h5"), v1);

  const CoefficientTable loaded = CoefficientTable::load(path("v1.h5"));
  EXPECT_EQ(loaded.loaded_version(), 1);
  ASSERT_EQ(loaded.shapes(), (std::vector<Shape>{{256, 256}, {768, 3072}}));
  for (int64_t i = 0; i < 2; ++i) {
    Recipe want(schedules[size_t(1 - i)]);  // sorted: 256x256 was the file's second row
    expect_same_recipe(loaded.recipe(i), want);
  }
  EXPECT_TRUE(std::isnan(loaded.metrics().at("fit_rms")[0]));
  EXPECT_EQ(loaded.metric(1, "fit_rms"), 0.125);
  // Known provenance names only: "unrelated" is not looked up (nothing lists attributes).
  EXPECT_EQ(loaded.attributes(),
            (std::map<std::string, std::string>{
                {"created", "2026-01-01T00:00:00Z"}, {"seed", "42"}, {"steps", "4"}}));

  loaded.save(path("v2.h5"));
  const CoefficientTable again = CoefficientTable::load(path("v2.h5"));
  EXPECT_EQ(again.loaded_version(), 2);
  for (int64_t i = 0; i < 2; ++i) expect_same_recipe(again.recipe(i), loaded.recipe(i));
  EXPECT_EQ(again.attributes().at("seed"), "42");
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
  expect_error(
      [&] {
        table.set({16777217, 8}, random_schedule(rng, 5));
      },
      {"16777217x8", "above 2^24"});
  expect_error(
      [&] {
        table.set({8, 8}, random_schedule(rng, 5), {{"", 1.0}});
      },
      {"8x8", "empty metric name"});
  expect_error(
      [&] {
        table.set({8, 8}, random_schedule(rng, 5), {{"\xff", 1.0}});
      },
      {"8x8", "metric name is not valid UTF-8"});
  Recipe standard_with_restart(random_schedule(rng, 5));
  standard_with_restart.restarts = {2};
  expect_error([&] { table.set({8, 8}, standard_with_restart); }, {"8x8", "gram form"});
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

// Text a table cannot hold is refused before anything is written (issue 12, item 11: one
// behaviour for `inspect` and `inspect --json`, so nothing that is not UTF-8 gets in).
TEST_F(TableTest, SaveRefusesTextItCannotStoreAndWritesNothing) {
  std::mt19937_64 rng(37);
  CoefficientTable table;
  table.set({64, 256}, random_schedule(rng, 5));
  const auto expect_refused = [&](const std::string& name, const std::string& value,
                                  std::initializer_list<std::string> parts) {
    CoefficientTable copy = table;
    copy.attributes()[name] = value;
    expect_error([&] { copy.save(path("t.h5")); }, parts);
    EXPECT_FALSE(fs::exists(path("t.h5")));
    EXPECT_TRUE(fs::is_empty(dir_));
  };
  expect_refused("seed", "\xc3\x28", {"t.h5", "provenance 'seed'", "not valid UTF-8 (byte 0)"});
  expect_refused("bad\xff", "x", {"t.h5", "provenance name is not valid UTF-8"});
  expect_refused("seed", std::string("a\0b", 3), {"t.h5", "NUL"});
  expect_refused("", "x", {"t.h5", "empty provenance name"});
  expect_refused("format_version", "3", {"t.h5", "'format_version'", "reserved"});
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
