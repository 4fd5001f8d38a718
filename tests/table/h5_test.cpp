// core/h5.h: typed round trips, attributes, recursive listing, error messages that name the
// file, and the temporary-file-plus-rename protocol.
#include "h5.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <limits>
#include <random>
#include <stdexcept>

#include "table_test_support.h"

namespace fs = std::filesystem;
namespace h5 = rootopt::h5;

namespace {

using H5Test = rootopt::testing::ScratchDirTest;
using rootopt::testing::expect_error;

TEST_F(H5Test, TypedDatasetsRoundTripBitExact) {
  std::mt19937_64 rng(12345);
  std::normal_distribution<double> normal;
  std::vector<double> doubles(3 * 4 * 5);
  for (auto& v : doubles) v = normal(rng) * std::pow(10.0, normal(rng) * 50);
  doubles[0] = std::numeric_limits<double>::denorm_min();
  std::vector<float> floats(7);
  for (auto& v : floats) v = static_cast<float>(normal(rng));
  std::vector<int64_t> ints = {std::numeric_limits<int64_t>::min(), -1,       0, 1,
                               std::numeric_limits<int64_t>::max(), 1LL << 40};
  {
    h5::Id file = h5::create_file(path("a.h5"));
    h5::write_doubles(file, "d", {3, 4, 5}, doubles.data());
    h5::write_floats(file, "group/sub/f", {7}, floats.data());
    h5::write_int64s(file, "i", {3, 2}, ints.data());
    h5::write_doubles(file, "empty", {0, 2}, nullptr);
  }
  h5::Id file = h5::open_file(path("a.h5"));
  h5::Id d = h5::open_dataset(file, "d", "a.h5");
  EXPECT_EQ(h5::dims(d), (std::vector<hsize_t>{3, 4, 5}));
  EXPECT_EQ(h5::type_class(d), H5T_FLOAT);
  EXPECT_EQ(h5::read_doubles(d, "d"), doubles);
  h5::Id f = h5::open_dataset(file, "/group/sub/f", "a.h5");
  EXPECT_EQ(h5::read_floats(f, "f"), floats);
  h5::Id i = h5::open_dataset(file, "i", "a.h5");
  EXPECT_EQ(h5::type_class(i), H5T_INTEGER);
  EXPECT_EQ(h5::read_int64s(i, "i"), ints);
  h5::Id e = h5::open_dataset(file, "empty", "a.h5");
  EXPECT_EQ(h5::dims(e), (std::vector<hsize_t>{0, 2}));
  EXPECT_TRUE(h5::read_doubles(e, "empty").empty());
}

TEST_F(H5Test, ExistsAndListDatasetsRecursive) {
  const double x = 1.0;
  {
    h5::Id file = h5::create_file(path("a.h5"));
    h5::write_doubles(file, "top", {1}, &x);
    h5::write_doubles(file, "g/h/deep", {1}, &x);
    h5::write_doubles(file, "g/mid", {1}, &x);
  }
  h5::Id file = h5::open_file(path("a.h5"));
  EXPECT_TRUE(h5::exists(file, "top"));
  EXPECT_TRUE(h5::exists(file, "/g/h/deep"));
  EXPECT_TRUE(h5::exists(file, "g/h"));
  EXPECT_FALSE(h5::exists(file, "missing"));
  EXPECT_FALSE(h5::exists(file, "missing/deeper/still"));
  EXPECT_FALSE(h5::exists(file, "g/nope"));
  EXPECT_FALSE(h5::exists(file, ""));
  auto names = h5::list_datasets(file);
  std::sort(names.begin(), names.end());
  EXPECT_EQ(names, (std::vector<std::string>{"/g/h/deep", "/g/mid", "/top"}));
  expect_error([&] { h5::open_dataset(file, "g/nope", "a.h5"); }, {"a.h5", "g/nope"});
  expect_error([&] { h5::open_dataset(file, "g", "a.h5"); }, {"a.h5", "'g'"});
  h5::Id group = h5::open_group(file, "/g/h", "a.h5");
  EXPECT_EQ(h5::list_datasets(group), std::vector<std::string>{"/deep"});
  expect_error([&] { h5::open_group(file, "top", "a.h5"); }, {"a.h5", "'top' is not a group"});
  expect_error([&] { h5::open_group(file, "nope", "a.h5"); }, {"a.h5", "missing group 'nope'"});
}

TEST_F(H5Test, AttributesRoundTripAndReplace) {
  {
    h5::Id file = h5::create_file(path("a.h5"));
    h5::write_attribute(file, "text", std::string("first"));
    h5::write_attribute(file, "text", std::string("héllo, wörld"));  // replaces
    h5::write_attribute(file, "count", int64_t{-42});
    h5::write_attribute(file, "value", 0.1);
    h5::write_attribute(file, "empty", std::string());
  }
  h5::Id file = h5::open_file(path("a.h5"));
  EXPECT_EQ(h5::read_string_attribute(file, "text", "a.h5"), "héllo, wörld");
  EXPECT_EQ(h5::read_string_attribute(file, "empty", "a.h5"), "");
  EXPECT_EQ(h5::read_int_attribute(file, "count", "a.h5"), -42);
  EXPECT_EQ(h5::read_double_attribute(file, "value", "a.h5"), 0.1);
  EXPECT_EQ(h5::read_double_attribute(file, "count", "a.h5"), -42.0);
  EXPECT_TRUE(h5::has_attribute(file, "count"));
  EXPECT_FALSE(h5::has_attribute(file, "nope"));
  auto names = h5::attribute_names(file);
  std::sort(names.begin(), names.end());
  EXPECT_EQ(names, (std::vector<std::string>{"count", "empty", "text", "value"}));
  expect_error([&] { h5::read_int_attribute(file, "text", "a.h5"); },
               {"a.h5", "'text'", "not an integer"});
  expect_error([&] { h5::read_string_attribute(file, "count", "a.h5"); },
               {"a.h5", "'count'", "not a string"});
  expect_error([&] { h5::read_int_attribute(file, "nope", "a.h5"); },
               {"a.h5", "missing attribute 'nope'"});
}

TEST_F(H5Test, CheckFormatNamesTheFileAndTheMismatch) {
  const h5::FileFormat state{"rootopt.state", 2, "rootopt state file"};
  {
    h5::Id file = h5::create_file(path("good.h5"));
    h5::write_attribute(file, "format", std::string("rootopt.state"));
    h5::write_attribute(file, "format_version", int64_t{2});
  }
  h5::Id good = h5::open_file(path("good.h5"));
  h5::check_format(good, "good.h5", state);
  expect_error(
      [&] {
        h5::check_format(good, "good.h5", {"rootopt.other", 2, "other file"});
      },
      {"good.h5", "'rootopt.state'", "expected 'rootopt.other'", "not a other file"});
  expect_error(
      [&] {
        h5::check_format(good, "good.h5", {"rootopt.state", 3, "state"});
      },
      {"good.h5", "unknown format_version 2", "version 3"});
  { h5::Id file = h5::create_file(path("bare.h5")); }
  h5::Id bare = h5::open_file(path("bare.h5"));
  expect_error([&] { h5::check_format(bare, "bare.h5", state); },
               {"bare.h5", "not a rootopt state file", "no root attribute 'format'"});
}

// Fixed-length strings (as written by h5py's np.bytes_ or other tools) read back too.
TEST_F(H5Test, ReadsFixedLengthStringAttribute) {
  {
    h5::Id file = h5::create_file(path("a.h5"));
    h5::Id type(H5Tcopy(H5T_C_S1), H5Tclose);
    ASSERT_GE(H5Tset_size(type, 5), 0);
    ASSERT_GE(H5Tset_strpad(type, H5T_STR_NULLPAD), 0);
    h5::Id space(H5Screate(H5S_SCALAR), H5Sclose);
    h5::Id attr(H5Acreate2(file, "fixed", type, space, H5P_DEFAULT, H5P_DEFAULT), H5Aclose);
    ASSERT_GE(H5Awrite(attr, type, "abcde"), 0);
  }
  h5::Id file = h5::open_file(path("a.h5"));
  EXPECT_EQ(h5::read_string_attribute(file, "fixed", "a.h5"), "abcde");
}

TEST_F(H5Test, OpenFileErrorsNameThePath) {
  expect_error([&] { h5::open_file(path("missing.h5")); }, {"missing.h5", "no such file"});
  {
    std::ofstream out(path("text.h5"));
    out << "this is not an HDF5 file\n";
  }
  expect_error([&] { h5::open_file(path("text.h5")); }, {"text.h5", "not an HDF5 file"});
  expect_error([&] { h5::create_file(path("no/such/dir/x.h5")); }, {"no/such/dir/x.h5"});
}

TEST_F(H5Test, TruncatedFileIsRejected) {
  std::vector<double> values(4096, 1.5);
  {
    h5::Id file = h5::create_file(path("full.h5"));
    h5::write_doubles(file, "v", {values.size()}, values.data());
  }
  const auto size = fs::file_size(path("full.h5"));
  fs::copy_file(path("full.h5"), path("cut.h5"));
  fs::resize_file(path("cut.h5"), size / 2);
  expect_error([&] { h5::open_file(path("cut.h5")); }, {"cut.h5", "truncated"});
}

TEST_F(H5Test, WriteAtomicallyCommitsAndLeavesNoTemporary) {
  const double x = 2.5;
  h5::write_atomically(path("t.h5"), [&](hid_t file) { h5::write_doubles(file, "x", {1}, &x); });
  EXPECT_FALSE(fs::exists(h5::temporary_path(path("t.h5"))));
  h5::Id file = h5::open_file(path("t.h5"));
  h5::Id d = h5::open_dataset(file, "x", "t.h5");
  EXPECT_EQ(h5::read_doubles(d, "x"), std::vector<double>{2.5});
}

TEST_F(H5Test, WriteAtomicallyFailureKeepsExistingFile) {
  const double old_value = 1.0, new_value = 2.0;
  h5::write_atomically(path("t.h5"),
                       [&](hid_t file) { h5::write_doubles(file, "x", {1}, &old_value); });
  const auto before = fs::file_size(path("t.h5"));
  EXPECT_THROW(h5::write_atomically(path("t.h5"),
                                    [&](hid_t file) {
                                      h5::write_doubles(file, "x", {1}, &new_value);
                                      throw std::runtime_error("interrupted");
                                    }),
               std::runtime_error);
  EXPECT_FALSE(fs::exists(h5::temporary_path(path("t.h5"))));
  EXPECT_EQ(fs::file_size(path("t.h5")), before);
  h5::Id file = h5::open_file(path("t.h5"));
  h5::Id d = h5::open_dataset(file, "x", "t.h5");
  EXPECT_EQ(h5::read_doubles(d, "x"), std::vector<double>{old_value});
}

TEST_F(H5Test, TemporaryPathAndCommitErrors) {
  EXPECT_EQ(h5::temporary_path("/a/b.h5"), "/a/b.h5.tmp." + std::to_string(::getpid()));
  expect_error([&] { h5::commit_temporary(path("absent.tmp"), path("dest.h5")); }, {"absent.tmp"});
  // Renaming onto a directory fails; the message names both paths.
  { std::ofstream(path("src.tmp")) << "x"; }
  fs::create_directories(path("dest_dir/inner"));
  expect_error([&] { h5::commit_temporary(path("src.tmp"), path("dest_dir")); },
               {"src.tmp", "dest_dir"});
  h5::remove_temporary(path("src.tmp"));
  EXPECT_FALSE(fs::exists(path("src.tmp")));
  h5::remove_temporary(path("src.tmp"));  // absent: no throw
}

TEST_F(H5Test, IdClosesAndMoves) {
  h5::Id a = h5::create_file(path("a.h5"));
  const hid_t raw = a.get();
  EXPECT_GT(H5Iis_valid(raw), 0);
  h5::Id b = std::move(a);
  EXPECT_EQ(a.get(), H5I_INVALID_HID);
  EXPECT_EQ(b.get(), raw);
  EXPECT_GE(b.close(), 0);
  EXPECT_EQ(b.get(), H5I_INVALID_HID);
  h5::SilenceErrors quiet;
  EXPECT_LE(H5Iis_valid(raw), 0);
}

}  // namespace
