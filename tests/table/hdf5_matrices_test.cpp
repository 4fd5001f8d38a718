// read_matrices: every 2-D float dataset at any depth, values exact, row-major order kept,
// other datasets skipped, bad files rejected with the file and dataset named.
#include "rootopt/hdf5_matrices.h"

#include <gtest/gtest.h>

#include <limits>
#include <random>

#include "h5.h"
#include "table_test_support.h"

namespace h5 = rootopt::h5;
using rootopt::testing::expect_error;

namespace {

using MatricesTest = rootopt::testing::ScratchDirTest;

TEST_F(MatricesTest, ReadsEveryTwoDimensionalFloatDataset) {
  std::mt19937_64 rng(99);
  std::normal_distribution<double> normal;
  std::vector<double> wide(3 * 5);
  for (auto& v : wide) v = normal(rng);
  std::vector<float> tall(7 * 2);
  for (auto& v : tall) v = static_cast<float>(normal(rng));
  const std::vector<double> vector(4, 1.0);
  const std::vector<int64_t> counter = {1, 2, 3, 4};
  {
    h5::Id file = h5::create_file(path("m.h5"));
    h5::write_doubles(file, "layers.0/step_100", {3, 5}, wide.data());
    h5::write_floats(file, "deep/er/tall", {7, 2}, tall.data());
    h5::write_doubles(file, "bias", {4}, vector.data());
    h5::write_int64s(file, "ints", {2, 2}, counter.data());
  }
  const auto matrices = rootopt::read_matrices(path("m.h5"));
  ASSERT_EQ(matrices.size(), 2u);
  EXPECT_EQ(matrices[0].name, "/deep/er/tall");
  EXPECT_EQ(matrices[1].name, "/layers.0/step_100");
  ASSERT_EQ(matrices[0].values.rows(), 7);
  ASSERT_EQ(matrices[0].values.cols(), 2);
  for (int i = 0; i < 7; ++i)
    for (int j = 0; j < 2; ++j)
      EXPECT_EQ(matrices[0].values(i, j), static_cast<double>(tall[size_t(i * 2 + j)]));
  ASSERT_EQ(matrices[1].values.rows(), 3);
  ASSERT_EQ(matrices[1].values.cols(), 5);
  for (int i = 0; i < 3; ++i)
    for (int j = 0; j < 5; ++j) EXPECT_EQ(matrices[1].values(i, j), wide[size_t(i * 5 + j)]);
  EXPECT_GT(matrices[1].values.norm(), 0.0);
}

TEST_F(MatricesTest, RejectsNonFiniteValues) {
  std::vector<double> values(6, 1.0);
  values[4] = std::numeric_limits<double>::quiet_NaN();
  {
    h5::Id file = h5::create_file(path("m.h5"));
    h5::write_doubles(file, "g/bad", {2, 3}, values.data());
  }
  expect_error([&] { rootopt::read_matrices(path("m.h5")); },
               {"m.h5", "/g/bad", "non-finite", "(1, 1)"});
}

TEST_F(MatricesTest, RejectsFileWithoutMatrices) {
  const std::vector<double> vector(4, 1.0);
  {
    h5::Id file = h5::create_file(path("m.h5"));
    h5::write_doubles(file, "bias", {4}, vector.data());
  }
  expect_error([&] { rootopt::read_matrices(path("m.h5")); },
               {"m.h5", "no 2-D floating-point dataset", "/bias"});
  { h5::Id file = h5::create_file(path("empty.h5")); }
  expect_error([&] { rootopt::read_matrices(path("empty.h5")); }, {"empty.h5", "no datasets"});
  expect_error([&] { rootopt::read_matrices(path("absent.h5")); }, {"absent.h5"});
}

TEST_F(MatricesTest, RejectsEmptyMatrix) {
  {
    h5::Id file = h5::create_file(path("m.h5"));
    h5::write_doubles(file, "zero", {0, 4}, nullptr);
  }
  expect_error([&] { rootopt::read_matrices(path("m.h5")); }, {"m.h5", "/zero", "empty"});
}

}  // namespace
