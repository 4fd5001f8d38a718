// CoefficientTable::load rejects every malformed file with a message naming the file, and the
// shape and field where there is one. Each test writes a valid table (version 2 through
// CoefficientTable::save, version 1 through the old layout), damages it with the HDF5 C API, and
// loads it.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <functional>
#include <limits>

#include "h5.h"
#include "rootopt/coefficient_table.h"
#include "table_test_support.h"
#include "table_v1_writer.h"

namespace fs = std::filesystem;
namespace h5 = rootopt::h5;
using rootopt::CoefficientTable;
using rootopt::testing::expect_error;

namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

class TableRejectionTest : public rootopt::testing::ScratchDirTest {
 protected:
  // A valid version-2 table, then `damage` applied to the open file. Rows (sorted): 256x256 gram
  // with a restart after step 1 (3 steps), 768x3072 schatten4 (2 steps), 1024x4096 (3 steps).
  std::string damaged(const std::function<void(hid_t)>& damage) {
    const std::string file = path("table.h5");
    CoefficientTable table;
    const rootopt::Schedule three("s", {{3, -4, 2}, {2, -1.5, 0.5}, {1.5, -0.5, 0}});
    rootopt::Recipe gram(three);
    gram.form = rootopt::IterationForm::gram;
    gram.restarts = {1};
    rootopt::Recipe two(rootopt::Schedule("t", {{3, -4, 2}, {1.5, -0.5, 0}}));
    two.normalization = rootopt::Normalization::schatten4;
    table.set({256, 256}, gram, {{"fit_rms", 0.1}});
    table.set({768, 3072}, two, {{"fit_rms", 0.3}});
    table.set({1024, 4096}, three, {{"fit_rms", 0.2}});
    table.attributes()["seed"] = "1";
    table.save(file);
    open_and(file, damage);
    return file;
  }

  // A valid version-1 table of 3 shapes, 3 steps, one metric and provenance, then `damage`.
  std::string damaged_v1(const std::function<void(hid_t)>& damage) {
    const std::string file = path("table.h5");
    rootopt::testing::TableV1 v1;
    v1.steps = 3;
    v1.shapes = {256, 256, 768, 3072, 1024, 4096};
    for (int i = 0; i < 3; ++i)
      v1.coefficients.insert(v1.coefficients.end(), {3, -4, 2, 2, -1.5, 0.5, 1.5, -0.5, 0});
    v1.metrics["fit_rms"] = {0.1, 0.3, 0.2};
    v1.text["created"] = "2026-01-01T00:00:00Z";
    rootopt::testing::write_table_v1(file, v1);
    open_and(file, damage);
    return file;
  }

  static void open_and(const std::string& file, const std::function<void(hid_t)>& damage) {
    h5::Id handle(H5Fopen(file.c_str(), H5F_ACC_RDWR, H5P_DEFAULT), H5Fclose);
    ASSERT_GE(handle.get(), 0);
    damage(handle);
  }

  void expect_load_error(const std::string& file, std::initializer_list<std::string> parts) {
    ::testing::internal::CaptureStderr();
    expect_error([&] { CoefficientTable::load(file); }, {"table.h5"});
    expect_error([&] { CoefficientTable::load(file); }, parts);
    // The error is rootopt's to report: HDF5 must not also dump its stack.
    EXPECT_EQ(::testing::internal::GetCapturedStderr(), "");
  }
  void expect_rejected(const std::function<void(hid_t)>& damage,
                       std::initializer_list<std::string> parts) {
    expect_load_error(damaged(damage), parts);
  }
  void expect_rejected_v1(const std::function<void(hid_t)>& damage,
                          std::initializer_list<std::string> parts) {
    expect_load_error(damaged_v1(damage), parts);
  }
};

void remove_link(hid_t file, const char* name) { ASSERT_GE(H5Ldelete(file, name, H5P_DEFAULT), 0); }

// Replaces dataset `name` with int64 data of the given extents.
void replace_ints(hid_t file, const char* name, std::vector<hsize_t> dims,
                  std::vector<int64_t> values) {
  if (h5::exists(file, name)) remove_link(file, name);
  h5::write_int64s(file, name, dims, values.data());
}

void replace_doubles(hid_t file, const char* name, std::vector<hsize_t> dims,
                     std::vector<double> values) {
  if (h5::exists(file, name)) remove_link(file, name);
  h5::write_doubles(file, name, dims, values.data());
}

void replace_strings(hid_t file, const char* name, std::vector<hsize_t> dims,
                     std::vector<std::string> values) {
  if (h5::exists(file, name)) remove_link(file, name);
  h5::write_strings(file, name, dims, values);
}

// The valid coefficients of the version-2 fixture ([3, 3, 3], NaN padding of the 2-step row)
// with entry `index` set to `value`.
std::vector<double> coefficients_with(size_t index, double value) {
  std::vector<double> values = {3, -4, 2, 2,   -1.5, 0.5, 1.5,  -0.5, 0,  // 256x256
                                3, -4, 2, 1.5, -0.5, 0,   kNaN, kNaN, kNaN,
                                3, -4, 2, 2,   -1.5, 0.5, 1.5,  -0.5, 0};
  values[index] = value;
  return values;
}

// --- files that are not tables ---------------------------------------------------------------

TEST_F(TableRejectionTest, ValidTablesLoad) {
  const auto table = CoefficientTable::load(damaged([](hid_t) {}));
  EXPECT_EQ(table.size(), 3);
  EXPECT_EQ(table.metric(*table.find({4096, 1024}), "fit_rms"), 0.2);
  EXPECT_EQ(table.recipe(0).restarts, std::vector<int64_t>{1});
  EXPECT_EQ(table.recipe(1).normalization, rootopt::Normalization::schatten4);
  const auto v1 = CoefficientTable::load(damaged_v1([](hid_t) {}));
  EXPECT_EQ(v1.size(), 3);
  EXPECT_EQ(v1.attributes().at("created"), "2026-01-01T00:00:00Z");
}

TEST_F(TableRejectionTest, MissingFile) {
  expect_error([&] { CoefficientTable::load(path("absent.h5")); }, {"absent.h5", "no such file"});
}

TEST_F(TableRejectionTest, NotAnHdf5File) {
  std::ofstream(path("table.h5")) << "shapes,a,b,c\n1024x4096,3.4,-4.7,2.0\n";
  expect_error([&] { CoefficientTable::load(path("table.h5")); }, {"table.h5", "not an HDF5 file"});
}

TEST_F(TableRejectionTest, TruncatedFiles) {
  for (const std::string& file : {damaged([](hid_t) {}), damaged_v1([](hid_t) {})}) {
    fs::resize_file(file, fs::file_size(file) / 2);
    expect_error([&] { CoefficientTable::load(file); }, {"table.h5", "truncated"});
  }
}

TEST_F(TableRejectionTest, MissingFormatAttribute) {
  expect_rejected([](hid_t f) { ASSERT_GE(H5Adelete(f, "format"), 0); },
                  {"not a rootopt coefficient table"});
  expect_rejected_v1([](hid_t f) { ASSERT_GE(H5Adelete(f, "format"), 0); },
                     {"not a rootopt coefficient table"});
}

TEST_F(TableRejectionTest, WrongFormatString) {
  expect_rejected([](hid_t f) { h5::write_attribute(f, "format", std::string("other.table")); },
                  {"'other.table'", "rootopt.coefficients"});
  expect_rejected_v1(
      [](hid_t f) {
        ASSERT_GE(H5Adelete(f, "format"), 0);
        rootopt::testing::write_v1_text(f, "format", "other.table");
      },
      {"'other.table'", "rootopt.coefficients"});
}

TEST_F(TableRejectionTest, UnknownFormatVersion) {
  expect_rejected([](hid_t f) { h5::write_attribute(f, "format_version", int64_t{3}); },
                  {"unknown format_version 3", "reads versions 1 to 2"});
}

TEST_F(TableRejectionTest, FormatVersionOfWrongType) {
  expect_rejected([](hid_t f) { h5::write_attribute(f, "format_version", std::string("2")); },
                  {"'format_version'", "not an integer"});
}

// Version 2 has no variable-length strings: a `format` written as h5py writes a Python str is
// refused, saying how to write it.
TEST_F(TableRejectionTest, VariableLengthFormatInVersion2) {
  expect_rejected(
      [](hid_t f) {
        ASSERT_GE(H5Adelete(f, "format"), 0);
        rootopt::testing::write_v1_text(f, "format", "rootopt.coefficients");
      },
      {"'format' is a variable-length string", "version 2", "np.bytes_"});
}

// --- version 2: shapes, steps, coefficients -------------------------------------------------

TEST_F(TableRejectionTest, MissingRequiredDatasets) {
  for (const char* name : {"shapes", "steps", "coefficients"})
    expect_rejected([&](hid_t f) { remove_link(f, name); },
                    {std::string("missing dataset '") + name + "'"});
}

TEST_F(TableRejectionTest, ShapesOfWrongRankTypeOrWidth) {
  expect_rejected(
      [](hid_t f) {
        replace_ints(f, "shapes", {6}, {256, 256, 768, 3072, 1024, 4096});
      },
      {"'shapes'", "rank 1, expected 2"});
  expect_rejected(
      [](hid_t f) {
        replace_doubles(f, "shapes", {3, 2}, {256, 256, 768, 3072, 1024, 4096});
      },
      {"'shapes'", "wrong type"});
  expect_rejected(
      [](hid_t f) {
        replace_ints(f, "shapes", {2, 3}, {1, 2, 3, 4, 5, 6});
      },
      {"'shapes'", "[2, 3]", "[S, 2]"});
  expect_rejected(
      [](hid_t f) {
        remove_link(f, "shapes");
        h5::create_group(f, "shapes");
      },
      {"'shapes'", "as a dataset"});
}

TEST_F(TableRejectionTest, BadShapes) {
  const auto with = [&](std::vector<int64_t> shapes, std::initializer_list<std::string> parts) {
    expect_rejected([&](hid_t f) { replace_ints(f, "shapes", {3, 2}, shapes); }, parts);
  };
  with({256, 256, 768, 3072, 256, 256}, {"duplicate shape 256x256", "row 2"});
  with({256, 256, 3072, 768, 1024, 4096}, {"3072x768", "not canonical"});
  with({0, 256, 768, 3072, 1024, 4096}, {"0x256", "zero or negative dimension"});
  with({-256, 256, 768, 3072, 1024, 4096}, {"-256x256", "zero or negative dimension"});
  with({256, 256, 768, 3072, 1024, (1 << 24) + 1}, {"1024x16777217", "above 2^24"});
}

TEST_F(TableRejectionTest, BadSteps) {
  expect_rejected(
      [](hid_t f) {
        replace_ints(f, "steps", {2}, {3, 2});
      },
      {"'steps'", "[2]", "one per shape"});
  expect_rejected(
      [](hid_t f) {
        replace_ints(f, "steps", {3}, {3, 0, 3});
      },
      {"shape 768x3072 (/shapes row 1)", "/steps = 0", "outside [1, 64]"});
  expect_rejected(
      [](hid_t f) {
        replace_ints(f, "steps", {3}, {3, 65, 3});
      },
      {"shape 768x3072", "/steps = 65"});
  // A shape claiming more steps than it has coefficients reads NaN padding as a step.
  expect_rejected(
      [](hid_t f) {
        replace_ints(f, "steps", {3}, {3, 3, 3});
      },
      {"shape 768x3072", "non-finite coefficient a = nan at step 3"});
  // One claiming fewer leaves a real step where padding must be.
  expect_rejected(
      [](hid_t f) {
        replace_ints(f, "steps", {3}, {3, 1, 3});
      },
      {"shape 768x3072", "step 2 lies beyond the shape's 1 steps", "NaN padding"});
}

TEST_F(TableRejectionTest, BadCoefficients) {
  expect_rejected(
      [](hid_t f) {
        replace_doubles(f, "coefficients", {3, 9}, std::vector<double>(27, 1.0));
      },
      {"'coefficients'", "rank 2, expected 3"});
  expect_rejected(
      [](hid_t f) {
        remove_link(f, "coefficients");
        const std::vector<float> values(27, 1.0f);
        h5::write_floats(f, "coefficients", {3, 3, 3}, values.data());
      },
      {"'coefficients'", "wrong type", "float64"});
  expect_rejected(
      [](hid_t f) {
        replace_ints(f, "coefficients", {3, 3, 3}, std::vector<int64_t>(27, 1));
      },
      {"'coefficients'", "wrong type"});
  expect_rejected(
      [](hid_t f) {
        replace_doubles(f, "coefficients", {3, 4, 3}, std::vector<double>(36, 1.0));
      },
      {"'coefficients'", "[3, 4, 3]", "K the largest /steps"});
  expect_rejected(
      [](hid_t f) {
        replace_doubles(f, "coefficients", {2, 3, 3}, std::vector<double>(18, 1.0));
      },
      {"'coefficients'", "[2, 3, 3]"});
  expect_rejected(
      [](hid_t f) {
        replace_doubles(f, "coefficients", {3, 3, 2}, std::vector<double>(18, 1.0));
      },
      {"'coefficients'", "[3, 3, 2]"});
  // Row 0 (256x256), step 2, b: index 4. Row 2 (1024x4096), step 3, c: index 26.
  expect_rejected(
      [](hid_t f) {
        replace_doubles(f, "coefficients", {3, 3, 3}, coefficients_with(4, kNaN));
      },
      {"shape 256x256", "non-finite coefficient b", "step 2"});
  expect_rejected(
      [](hid_t f) {
        replace_doubles(f, "coefficients", {3, 3, 3},
                        coefficients_with(26, -std::numeric_limits<double>::infinity()));
      },
      {"shape 1024x4096", "non-finite coefficient c", "step 3"});
  // Padding of the 2-step row (768x3072, step 3) must be NaN: 0 is a plausible step.
  expect_rejected(
      [](hid_t f) {
        replace_doubles(f, "coefficients", {3, 3, 3}, coefficients_with(16, 0.0));
      },
      {"shape 768x3072", "step 3 lies beyond the shape's 2 steps", "b = 0"});
}

// --- version 2: recipe fields ----------------------------------------------------------------

TEST_F(TableRejectionTest, UnknownCodes) {
  expect_rejected(
      [](hid_t f) {
        replace_ints(f, "normalization", {3}, {0, 3, 0});
      },
      {"shape 768x3072", "unknown /normalization code 3", "2 schatten8"});
  expect_rejected(
      [](hid_t f) {
        replace_ints(f, "form", {3}, {1, 0, -1});
      },
      {"shape 1024x4096", "unknown /form code -1", "0 standard, 1 gram"});
  expect_rejected(
      [](hid_t f) {
        replace_ints(f, "tail_precision", {3}, {0, 2, 0});
      },
      {"shape 768x3072", "unknown /tail_precision code 2", "0 fp32, 1 tf32"});
  expect_rejected(
      [](hid_t f) {
        replace_ints(f, "normalization", {2}, {0, 0});
      },
      {"'normalization'", "[2]", "one per shape"});
}

TEST_F(TableRejectionTest, BadTailAndRestarts) {
  expect_rejected(
      [](hid_t f) {
        replace_ints(f, "tail_steps", {3}, {0, 3, 0});
      },
      {"shape 768x3072", "3 tail steps for a recipe of 2 steps"});
  // 1024x4096 is standard form: restarts are a gram-form field.
  expect_rejected(
      [](hid_t f) {
        replace_ints(f, "restart_after", {3, 3}, {1, 0, 0, 0, 0, 0, 0, 1, 0});
      },
      {"shape 1024x4096", "restarts are only defined for the gram form"});
  expect_rejected(
      [](hid_t f) {
        replace_ints(f, "restart_after", {3, 3}, {2, 0, 0, 0, 0, 0, 0, 0, 0});
      },
      {"shape 256x256", "/restart_after holds 2 at step 1", "0 or 1"});
  expect_rejected(
      [](hid_t f) {
        replace_ints(f, "restart_after", {3, 3}, {1, 0, 1, 0, 0, 0, 0, 0, 0});
      },
      {"shape 256x256", "flags step 3", "steps 1 to 2"});
  expect_rejected(  // 768x3072 has 2 steps: its third flag is padding
      [](hid_t f) {
        replace_ints(f, "restart_after", {3, 3}, {1, 0, 0, 0, 0, 1, 0, 0, 0});
      },
      {"shape 768x3072", "flags step 3", "padding and must be 0"});
  expect_rejected(
      [](hid_t f) {
        replace_ints(f, "restart_after", {3, 2}, {1, 0, 0, 0, 0, 0});
      },
      {"'restart_after'", "[3, 2]", "one flag per step"});
}

// Optional recipe datasets default when absent (room to grow: a reader of this version treats a
// field it lacks as its default), and unknown datasets are ignored.
TEST_F(TableRejectionTest, OptionalDatasetsDefaultAndUnknownOnesAreIgnored) {
  const std::string file = damaged([](hid_t f) {
    for (const char* name : {"normalization", "form", "restart_after", "tail_steps",
                             "tail_precision", "metrics", "metric_names", "provenance"})
      remove_link(f, name);
    const double x = 1;
    h5::write_doubles(f, "a_future_field", {1}, &x);
  });
  const auto table = CoefficientTable::load(file);
  ASSERT_EQ(table.size(), 3);
  for (int64_t i = 0; i < 3; ++i) {
    EXPECT_EQ(table.recipe(i).normalization, rootopt::Normalization::frobenius);
    EXPECT_EQ(table.recipe(i).form, rootopt::IterationForm::standard);
    EXPECT_TRUE(table.recipe(i).restarts.empty());
    EXPECT_EQ(table.recipe(i).tail_steps, 0);
  }
  EXPECT_EQ(table.recipe(1).steps(), 2);
  EXPECT_TRUE(table.metrics().empty());
  EXPECT_TRUE(table.attributes().empty());
}

// --- version 2: metrics and provenance -------------------------------------------------------

TEST_F(TableRejectionTest, BadMetrics) {
  expect_rejected([](hid_t f) { remove_link(f, "metric_names"); },
                  {"'metrics' without 'metric_names'"});
  expect_rejected([](hid_t f) { remove_link(f, "metrics"); }, {"'metric_names' without 'metrics'"});
  expect_rejected(
      [](hid_t f) {
        replace_doubles(f, "metrics", {3, 2}, std::vector<double>(6));
      },
      {"'metrics'", "[3, 2]", "[S, M]"});
  expect_rejected(
      [](hid_t f) {
        replace_ints(f, "metrics", {3, 1}, {1, 2, 3});
      },
      {"'metrics'", "wrong type"});
  expect_rejected(
      [](hid_t f) {
        replace_doubles(f, "metrics", {3, 1}, {0.1, std::numeric_limits<double>::infinity(), 0.3});
      },
      {"'fit_rms'", "infinite", "768x3072"});
  expect_rejected(
      [](hid_t f) {
        replace_strings(f, "metric_names", {2}, {"a", "a"});
        replace_doubles(f, "metrics", {3, 2}, std::vector<double>(6));
      },
      {"/metric_names entry 1", "duplicate metric 'a'"});
  expect_rejected([](hid_t f) { replace_strings(f, "metric_names", {1}, {"\xff"}); },
                  {"/metric_names entry 0", "metric name is not valid UTF-8"});
  expect_rejected([](hid_t f) { replace_ints(f, "metric_names", {1}, {1}); },
                  {"'metric_names'", "wrong type (expected string)"});
}

TEST_F(TableRejectionTest, BadProvenance) {
  expect_rejected(
      [](hid_t f) {
        replace_strings(f, "provenance", {1, 3}, {"a", "b", "c"});
      },
      {"'provenance'", "[1, 3]", "[P, 2]"});
  expect_rejected(
      [](hid_t f) {
        replace_strings(f, "provenance", {2, 2}, {"seed", "1", "seed", "2"});
      },
      {"/provenance row 1", "duplicate provenance 'seed'"});
  expect_rejected(
      [](hid_t f) {
        replace_strings(f, "provenance", {1, 2}, {"format", "x"});
      },
      {"provenance name 'format' is reserved"});
  expect_rejected(
      [](hid_t f) {
        replace_strings(f, "provenance", {1, 2}, {"", "x"});
      },
      {"/provenance row 0", "empty provenance name"});
  // Issue 12, item 11: text that is not UTF-8 is refused on load, so `inspect` and
  // `inspect --json` (which could not encode it) behave the same.
  expect_rejected(
      [](hid_t f) {
        replace_strings(f, "provenance", {1, 2}, {"seed", "4\xc3"});
      },
      {"value of provenance 'seed' is not valid UTF-8 (byte 1)"});
  expect_rejected(
      [](hid_t f) {
        remove_link(f, "provenance");
        h5::Id type(H5Tcopy(H5T_C_S1), H5Tclose);
        H5Tset_size(type, H5T_VARIABLE);
        const hsize_t extents[2] = {1, 2};
        h5::Id space(H5Screate_simple(2, extents, nullptr), H5Sclose);
        h5::Id set(H5Dcreate2(f, "provenance", type, space, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT),
                   H5Dclose);
        const char* text[2] = {"seed", "1"};
        ASSERT_GE(H5Dwrite(set, type, H5S_ALL, H5S_ALL, H5P_DEFAULT, text), 0);
      },
      {"provenance", "variable-length strings", "np.bytes_"});
}

// --- version 1 ---------------------------------------------------------------------------------

TEST_F(TableRejectionTest, Version1Steps) {
  expect_rejected_v1([](hid_t f) { ASSERT_GE(H5Adelete(f, "steps"), 0); },
                     {"missing attribute 'steps'"});
  expect_rejected_v1(
      [](hid_t f) {
        ASSERT_GE(H5Adelete(f, "steps"), 0);
        rootopt::testing::write_v1_number(f, "steps", 0);
      },
      {"'steps' = 0 is not a valid step count"});
  expect_rejected_v1(
      [](hid_t f) {
        ASSERT_GE(H5Adelete(f, "steps"), 0);
        rootopt::testing::write_v1_number(f, "steps", 4);
      },
      {"'coefficients'", "[3, 3, 3]", "K = attribute 'steps'"});
}

TEST_F(TableRejectionTest, Version1Metrics) {
  const auto replace = [](hid_t f, std::vector<hsize_t> extents, std::vector<double> values) {
    remove_link(f, "metrics/fit_rms");
    rootopt::testing::write_v1_dataset(f, "metrics/fit_rms", H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE,
                                       extents, values.data());
  };
  expect_rejected_v1(
      [&](hid_t f) {
        replace(f, {2}, {0.1, 0.2});
      },
      {"metrics/fit_rms", "[2]", "one per shape"});
  expect_rejected_v1(
      [&](hid_t f) {
        replace(f, {3, 1}, {0.1, 0.2, 0.3});
      },
      {"metrics/fit_rms", "rank 2, expected 1"});
  expect_rejected_v1(
      [&](hid_t f) {
        replace(f, {3}, {0.1, std::numeric_limits<double>::infinity(), 0.3});
      },
      {"'fit_rms'", "infinite"});
  expect_rejected_v1(
      [](hid_t f) {
        const double v[3] = {1, 2, 3};
        rootopt::testing::write_v1_dataset(f, "metrics/group/x", H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE,
                                           {3}, v);
      },
      {"metrics/group", "nested"});
  expect_rejected_v1(
      [](hid_t f) {
        remove_link(f, "metrics");
        const double v[3] = {1, 2, 3};
        rootopt::testing::write_v1_dataset(f, "metrics", H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, {3}, v);
      },
      {"'/metrics' is not a group"});
}

TEST_F(TableRejectionTest, Version1Provenance) {
  expect_rejected_v1(
      [](hid_t f) {
        h5::Id space(H5Screate(H5S_SCALAR), H5Sclose);
        h5::Id attribute(H5Acreate2(f, "seed", H5T_STD_B8LE, space, H5P_DEFAULT, H5P_DEFAULT),
                         H5Aclose);
        const unsigned char bits = 1;
        ASSERT_GE(H5Awrite(attribute, H5T_NATIVE_B8, &bits), 0);
      },
      {"'seed'", "neither a string nor a number"});
  expect_rejected_v1([](hid_t f) { rootopt::testing::write_v1_text(f, "objective", "a\xff"); },
                     {"value of provenance 'objective' is not valid UTF-8 (byte 1)"});
}

}  // namespace
