// CoefficientTable::load rejects every damaged file with a message naming the file and the
// problem. Each test writes a valid table, damages it with the HDF5 C API, and loads it.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <functional>
#include <limits>

#include "h5.h"
#include "rootopt/coefficient_table.h"
#include "table_test_support.h"

namespace fs = std::filesystem;
namespace h5 = rootopt::h5;
using rootopt::CoefficientTable;
using rootopt::testing::expect_error;

namespace {

constexpr int64_t kSteps = 3;

class TableRejectionTest : public rootopt::testing::ScratchDirTest {
 protected:
  // A valid 3-shape, 3-step table with one metric, then `damage` applied to the open file.
  std::string damaged(const std::function<void(hid_t)>& damage) {
    const std::string file = path("table.h5");
    CoefficientTable table;
    const rootopt::Schedule schedule("s", {{3, -4, 2}, {2, -1.5, 0.5}, {1.5, -0.5, 0}});
    table.set({256, 256}, schedule, {{"fit_rms", 0.1}});
    table.set({1024, 4096}, schedule, {{"fit_rms", 0.2}});
    table.set({768, 3072}, schedule, {{"fit_rms", 0.3}});
    table.save(file);
    h5::Id handle(H5Fopen(file.c_str(), H5F_ACC_RDWR, H5P_DEFAULT), H5Fclose);
    EXPECT_GE(handle.get(), 0);
    damage(handle);
    return file;
  }

  void expect_rejected(const std::function<void(hid_t)>& damage,
                       std::initializer_list<std::string> parts) {
    const std::string file = damaged(damage);
    ::testing::internal::CaptureStderr();
    expect_error([&] { CoefficientTable::load(file); }, {"table.h5"});
    expect_error([&] { CoefficientTable::load(file); }, parts);
    // The error is rootopt's to report: HDF5 must not also dump its stack.
    EXPECT_EQ(::testing::internal::GetCapturedStderr(), "");
  }
};

void remove_link(hid_t file, const char* name) { ASSERT_GE(H5Ldelete(file, name, H5P_DEFAULT), 0); }

// Replaces dataset `name` with int64 data of the given extents.
void replace_ints(hid_t file, const char* name, std::vector<hsize_t> dims,
                  std::vector<int64_t> values) {
  remove_link(file, name);
  h5::write_int64s(file, name, dims, values.data());
}

void replace_doubles(hid_t file, const char* name, std::vector<hsize_t> dims,
                     std::vector<double> values) {
  remove_link(file, name);
  h5::write_doubles(file, name, dims, values.data());
}

// Valid coefficients for `shapes` rows with one entry overwritten.
std::vector<double> coefficients_with(size_t shapes, size_t index, double value) {
  std::vector<double> values(shapes * kSteps * 3, 1.0);
  values[index] = value;
  return values;
}

TEST_F(TableRejectionTest, ValidTableLoads) {
  const auto table = CoefficientTable::load(damaged([](hid_t) {}));
  EXPECT_EQ(table.size(), 3);
  EXPECT_EQ(table.metric(*table.find({4096, 1024}), "fit_rms"), 0.2);
}

TEST_F(TableRejectionTest, MissingFile) {
  expect_error([&] { CoefficientTable::load(path("absent.h5")); }, {"absent.h5", "no such file"});
}

TEST_F(TableRejectionTest, NotAnHdf5File) {
  std::ofstream(path("table.h5")) << "shapes,a,b,c\n1024x4096,3.4,-4.7,2.0\n";
  expect_error([&] { CoefficientTable::load(path("table.h5")); }, {"table.h5", "not an HDF5 file"});
}

TEST_F(TableRejectionTest, TruncatedFile) {
  const std::string file = damaged([](hid_t) {});
  fs::resize_file(file, fs::file_size(file) / 2);
  expect_error([&] { CoefficientTable::load(file); }, {"table.h5", "truncated"});
}

TEST_F(TableRejectionTest, MissingFormatAttribute) {
  expect_rejected([](hid_t f) { ASSERT_GE(H5Adelete(f, "format"), 0); },
                  {"not a rootopt coefficient table"});
}

TEST_F(TableRejectionTest, WrongFormatString) {
  expect_rejected([](hid_t f) { h5::write_attribute(f, "format", std::string("other.table")); },
                  {"'other.table'", "rootopt.coefficients"});
}

TEST_F(TableRejectionTest, UnknownFormatVersion) {
  expect_rejected([](hid_t f) { h5::write_attribute(f, "format_version", int64_t{2}); },
                  {"unknown format_version 2"});
}

TEST_F(TableRejectionTest, FormatVersionOfWrongType) {
  expect_rejected([](hid_t f) { h5::write_attribute(f, "format_version", std::string("1")); },
                  {"'format_version'", "not an integer"});
}

TEST_F(TableRejectionTest, MissingSteps) {
  expect_rejected([](hid_t f) { ASSERT_GE(H5Adelete(f, "steps"), 0); },
                  {"missing attribute 'steps'"});
}

TEST_F(TableRejectionTest, NonPositiveSteps) {
  expect_rejected([](hid_t f) { h5::write_attribute(f, "steps", int64_t{0}); }, {"'steps' = 0"});
}

TEST_F(TableRejectionTest, MissingShapes) {
  expect_rejected([](hid_t f) { remove_link(f, "shapes"); }, {"missing dataset 'shapes'"});
}

TEST_F(TableRejectionTest, MissingCoefficients) {
  expect_rejected([](hid_t f) { remove_link(f, "coefficients"); },
                  {"missing dataset 'coefficients'"});
}

TEST_F(TableRejectionTest, ShapesOfWrongRank) {
  expect_rejected(
      [](hid_t f) {
        replace_ints(f, "shapes", {6}, {256, 256, 768, 3072, 1024, 4096});
      },
      {"'shapes'", "rank 1, expected 2"});
}

TEST_F(TableRejectionTest, ShapesOfWrongType) {
  expect_rejected(
      [](hid_t f) {
        replace_doubles(f, "shapes", {3, 2}, {256, 256, 768, 3072, 1024, 4096});
      },
      {"'shapes'", "wrong type"});
}

TEST_F(TableRejectionTest, ShapesOfWrongWidth) {
  expect_rejected(
      [](hid_t f) {
        replace_ints(f, "shapes", {2, 3}, {1, 2, 3, 4, 5, 6});
      },
      {"'shapes'", "[2, 3]", "[S, 2]"});
}

TEST_F(TableRejectionTest, ShapesIsAGroup) {
  expect_rejected(
      [](hid_t f) {
        remove_link(f, "shapes");
        h5::create_group(f, "shapes");
      },
      {"'shapes'", "as a dataset"});
}

TEST_F(TableRejectionTest, CoefficientsOfWrongRank) {
  expect_rejected(
      [](hid_t f) {
        replace_doubles(f, "coefficients", {3, 9}, std::vector<double>(27, 1.0));
      },
      {"'coefficients'", "rank 2, expected 3"});
}

TEST_F(TableRejectionTest, CoefficientsInSinglePrecision) {
  expect_rejected(
      [](hid_t f) {
        remove_link(f, "coefficients");
        const std::vector<float> values(3 * kSteps * 3, 1.0f);
        h5::write_floats(f, "coefficients", {3, kSteps, 3}, values.data());
      },
      {"'coefficients'", "wrong type", "float64"});
}

TEST_F(TableRejectionTest, CoefficientsOfIntegerType) {
  expect_rejected(
      [](hid_t f) {
        replace_ints(f, "coefficients", {3, kSteps, 3}, std::vector<int64_t>(27, 1));
      },
      {"'coefficients'", "wrong type"});
}

TEST_F(TableRejectionTest, CoefficientsWithWrongStepCount) {
  expect_rejected(
      [](hid_t f) {
        replace_doubles(f, "coefficients", {3, kSteps + 1, 3}, coefficients_with(4, 0, 1.0));
      },
      {"'coefficients'", "[3, 4, 3]", "expected [3, 3, 3]"});
}

TEST_F(TableRejectionTest, CoefficientsNotMatchingShapeCount) {
  expect_rejected(
      [](hid_t f) {
        replace_doubles(f, "coefficients", {2, kSteps, 3}, coefficients_with(2, 0, 1.0));
      },
      {"'coefficients'", "[2, 3, 3]", "expected [3, 3, 3]"});
}

TEST_F(TableRejectionTest, CoefficientsNotTriples) {
  expect_rejected(
      [](hid_t f) {
        replace_doubles(f, "coefficients", {3, kSteps, 2}, std::vector<double>(18, 1.0));
      },
      {"'coefficients'", "[3, 3, 2]"});
}

TEST_F(TableRejectionTest, NaNCoefficient) {
  // Row 1 (768x3072 in sorted order), step 2, coefficient b: index (1*3 + 1)*3 + 1.
  expect_rejected(
      [](hid_t f) {
        replace_doubles(f, "coefficients", {3, kSteps, 3},
                        coefficients_with(3, 13, std::numeric_limits<double>::quiet_NaN()));
      },
      {"non-finite coefficient b", "768x3072", "step 2"});
}

TEST_F(TableRejectionTest, InfiniteCoefficient) {
  expect_rejected(
      [](hid_t f) {
        replace_doubles(f, "coefficients", {3, kSteps, 3},
                        coefficients_with(3, 26, -std::numeric_limits<double>::infinity()));
      },
      {"non-finite coefficient c", "1024x4096", "step 3"});
}

TEST_F(TableRejectionTest, DuplicateShape) {
  expect_rejected(
      [](hid_t f) {
        replace_ints(f, "shapes", {3, 2}, {256, 256, 768, 3072, 256, 256});
      },
      {"duplicate shape 256x256", "row 2"});
}

TEST_F(TableRejectionTest, NonCanonicalShape) {
  expect_rejected(
      [](hid_t f) {
        replace_ints(f, "shapes", {3, 2}, {256, 256, 3072, 768, 1024, 4096});
      },
      {"3072x768", "not canonical"});
}

TEST_F(TableRejectionTest, ZeroDimension) {
  expect_rejected(
      [](hid_t f) {
        replace_ints(f, "shapes", {3, 2}, {0, 256, 768, 3072, 1024, 4096});
      },
      {"0x256", "zero or negative dimension"});
}

TEST_F(TableRejectionTest, NegativeDimension) {
  expect_rejected(
      [](hid_t f) {
        replace_ints(f, "shapes", {3, 2}, {-256, 256, 768, 3072, 1024, 4096});
      },
      {"-256x256", "zero or negative dimension"});
}

TEST_F(TableRejectionTest, MetricOfWrongLength) {
  expect_rejected(
      [](hid_t f) {
        replace_doubles(f, "metrics/fit_rms", {2}, {0.1, 0.2});
      },
      {"metrics/fit_rms", "2 values", "(3)"});
}

TEST_F(TableRejectionTest, MetricOfWrongRank) {
  expect_rejected(
      [](hid_t f) {
        replace_doubles(f, "metrics/fit_rms", {3, 1}, {0.1, 0.2, 0.3});
      },
      {"metrics/fit_rms", "rank 2, expected 1"});
}

TEST_F(TableRejectionTest, MetricOfWrongType) {
  expect_rejected(
      [](hid_t f) {
        replace_ints(f, "metrics/fit_rms", {3}, {1, 2, 3});
      },
      {"metrics/fit_rms", "wrong type"});
}

TEST_F(TableRejectionTest, InfiniteMetric) {
  expect_rejected(
      [](hid_t f) {
        replace_doubles(f, "metrics/fit_rms", {3},
                        {0.1, std::numeric_limits<double>::infinity(), 0.3});
      },
      {"'fit_rms'", "infinite"});
}

TEST_F(TableRejectionTest, NestedMetric) {
  expect_rejected(
      [](hid_t f) {
        const double v[3] = {1, 2, 3};
        h5::write_doubles(f, "metrics/group/x", {3}, v);
      },
      {"metrics/group/x", "nested"});
}

TEST_F(TableRejectionTest, MetricsIsNotAGroup) {
  expect_rejected(
      [](hid_t f) {
        remove_link(f, "metrics");
        const double v[3] = {1, 2, 3};
        h5::write_doubles(f, "metrics", {3}, v);
      },
      {"'/metrics' is not a group"});
}

TEST_F(TableRejectionTest, ProvenanceOfUnsupportedType) {
  expect_rejected(
      [](hid_t f) {
        h5::Id space(H5Screate(H5S_SCALAR), H5Sclose);
        h5::Id attribute(H5Acreate2(f, "odd", H5T_STD_B8LE, space, H5P_DEFAULT, H5P_DEFAULT),
                         H5Aclose);
        const unsigned char bits = 1;
        ASSERT_GE(H5Awrite(attribute, H5T_NATIVE_B8, &bits), 0);
      },
      {"'odd'", "neither a string nor a number"});
}

}  // namespace
