// core/h5.h: typed round trips, attributes, recursive listing, error messages that name the
// file, and the temporary-file-plus-rename protocol.
#include "h5.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/file.h>
#include <sys/wait.h>
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
  EXPECT_FALSE(rootopt::testing::is_variable_length_string(file, "text"));  // no global heap
  expect_error([&] { h5::read_int_attribute(file, "text", "a.h5"); },
               {"a.h5", "'text'", "not an integer"});
  expect_error([&] { h5::read_string_attribute(file, "count", "a.h5"); },
               {"a.h5", "'count'", "not a string"});
  expect_error([&] { h5::read_int_attribute(file, "nope", "a.h5"); },
               {"a.h5", "missing attribute 'nope'"});
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

// Files are written with checksummed metadata (superblock version >= 2, which only the
// V110 bounds give) and chunked, Fletcher32-filtered datasets; empty datasets stay contiguous.
TEST_F(H5Test, WritesChecksummedFiles) {
  const std::vector<double> values(1000, 0.25);
  {
    h5::Id file = h5::create_file(path("a.h5"));
    h5::write_doubles(file, "d", {10, 100}, values.data());
    h5::write_strings(file, "s", {2, 2}, {"a", "bcd", "", "é"});
    h5::write_doubles(file, "empty", {0, 3}, nullptr);
  }
  h5::Id file = h5::open_file(path("a.h5"));
  H5F_info2_t info{};
  ASSERT_GE(H5Fget_info2(file, &info), 0);
  EXPECT_GE(info.super.version, 2u);
  for (const char* name : {"d", "s"}) {
    h5::Id dataset = h5::open_dataset(file, name, "a.h5");
    h5::Id props(H5Dget_create_plist(dataset), H5Pclose);
    EXPECT_EQ(H5Pget_layout(props), H5D_CHUNKED) << name;
    unsigned flags = 0;
    EXPECT_GE(H5Pget_filter_by_id2(props, H5Z_FILTER_FLETCHER32, &flags, nullptr, nullptr, 0,
                                   nullptr, nullptr),
              0)
        << name;
  }
  h5::Id strings = h5::open_dataset(file, "s", "a.h5");
  EXPECT_EQ(h5::read_strings(strings, "s", 16), (std::vector<std::string>{"a", "bcd", "", "é"}));
  expect_error([&] { h5::read_strings(strings, "s", 2); }, {"s", "string size 3"});
  h5::Id empty = h5::open_dataset(file, "empty", "a.h5");
  h5::Id props(H5Dget_create_plist(empty), H5Pclose);
  EXPECT_EQ(H5Pget_layout(props), H5D_CONTIGUOUS);
  expect_error([&] { h5::write_strings(file, "nul", {1}, {std::string("a\0b", 3)}); }, {"NUL"});
}

// A flipped bit in a dataset's data is a read error, not a wrong value.
TEST_F(H5Test, FletcherChecksumCatchesAFlippedDataBit) {
  std::vector<double> values(64);
  for (size_t i = 0; i < values.size(); ++i) values[i] = 1.0 + double(i) / 64;
  {
    h5::Id file = h5::create_file(path("a.h5"));
    h5::write_doubles(file, "d", {values.size()}, values.data());
  }
  std::string image = h5::read_image(path("a.h5"), 1 << 20);
  const double needle = values[17];
  const size_t at = image.find(std::string(reinterpret_cast<const char*>(&needle), 8));
  ASSERT_NE(at, std::string::npos);
  image[at + 6] = char(image[at + 6] ^ 0x10);  // one exponent bit of values[17]
  h5::Id file = h5::open_image(image, "flipped.h5");
  h5::Id dataset = h5::open_dataset(file, "d", "flipped.h5");
  expect_error([&] { h5::read_doubles(dataset, "flipped.h5:/d"); },
               {"flipped.h5:/d", "Fletcher32"});
}

TEST_F(H5Test, VariableLengthStringDatasetsAreRefused) {
  {
    h5::Id file = h5::create_file(path("a.h5"));
    h5::Id type(H5Tcopy(H5T_C_S1), H5Tclose);
    ASSERT_GE(H5Tset_size(type, H5T_VARIABLE), 0);
    const hsize_t one = 1;
    h5::Id space(H5Screate_simple(1, &one, nullptr), H5Sclose);
    h5::Id set(H5Dcreate2(file, "v", type, space, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT), H5Dclose);
    const char* text = "x";
    ASSERT_GE(H5Dwrite(set, type, H5S_ALL, H5S_ALL, H5P_DEFAULT, &text), 0);
  }
  h5::Id file = h5::open_file(path("a.h5"));
  h5::Id dataset = h5::open_dataset(file, "v", "a.h5");
  expect_error([&] { h5::read_strings(dataset, "a.h5:/v", 16); },
               {"a.h5:/v", "variable-length strings"});
}

TEST_F(H5Test, ImagesOpenLikeFiles) {
  const double x = 3.5;
  h5::write_atomically(path("a.h5"), [&](hid_t file) { h5::write_doubles(file, "x", {1}, &x); });
  const std::string image = h5::read_image(path("a.h5"), 1 << 20);
  EXPECT_EQ(image.size(), fs::file_size(path("a.h5")));
  {
    h5::Id file = h5::open_image(image, "mem.h5");
    h5::Id d = h5::open_dataset(file, "x", "mem.h5");
    EXPECT_EQ(h5::read_doubles(d, "x"), std::vector<double>{3.5});
  }
  expect_error([&] { h5::read_image(path("a.h5"), image.size() - 1); },
               {"a.h5", std::to_string(image.size()) + " bytes, more than"});
  expect_error([&] { h5::read_image(path("absent.h5"), 1 << 20); }, {"absent.h5", "no such file"});
  expect_error([&] { h5::read_image(path(""), 1 << 20); }, {"not a regular file"});
  expect_error([&] { h5::open_image("not hdf5 at all", "text.h5"); },
               {"text.h5", "not an HDF5 file"});
  expect_error([&] { h5::open_image(image.substr(0, image.size() / 2), "cut.h5"); },
               {"cut.h5", "truncated"});
}

TEST(H5Count, ElementCountRefusesOverflow) {
  EXPECT_EQ(h5::element_count({3, 4, 5}, "x"), 60u);
  EXPECT_EQ(h5::element_count({}, "x"), 1u);
  EXPECT_EQ(h5::element_count({0, hsize_t(1) << 62}, "x"), 0u);
  expect_error(
      [&] {
        h5::element_count({hsize_t(1) << 32, hsize_t(1) << 32}, "big.h5:/d");
      },
      {"big.h5:/d", "overflow"});
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

// A process that has exited: its pid stays unused long enough for the test.
pid_t dead_pid() {
  const pid_t child = ::fork();
  if (child == 0) ::_exit(0);
  int status = 0;
  ::waitpid(child, &status, 0);
  return child;
}

// Temporaries of dead processes go with the next successful save; those of live processes (one
// alive, one locked by a writer) and unrelated files stay.
TEST_F(H5Test, SuccessfulSaveRemovesStaleTemporaries) {
  const std::string target = path("t.h5");
  const auto touch = [](const std::string& file) { std::ofstream(file) << "partial"; };
  std::vector<std::string> stale;
  for (int i = 0; i < 10; ++i) {  // ten killed writers
    stale.push_back(target + ".tmp." + std::to_string(dead_pid()));
    touch(stale.back());
  }
  const std::string alive = target + ".tmp." + std::to_string(::getppid());
  const std::string other = path("u.h5.tmp." + std::to_string(dead_pid()));
  const std::string not_pid = target + ".tmp.backup";
  for (const std::string& file : {alive, other, not_pid}) touch(file);
  // A temporary locked as HDF5 locks a file it writes, under a dead pid (a writer on another
  // machine sharing the directory, where the pid means nothing).
  const std::string locked = target + ".tmp." + std::to_string(dead_pid());
  touch(locked);
  const int fd = ::open(locked.c_str(), O_RDONLY);
  ASSERT_GE(fd, 0);
  ASSERT_EQ(::flock(fd, LOCK_EX), 0);

  const double x = 1;
  h5::write_atomically(target, [&](hid_t file) {
    h5::write_doubles(file, "x", {1}, &x);
    // What the lock test relies on: HDF5 holds a lock on the temporary while writing it.
    const int probe = ::open(h5::temporary_path(target).c_str(), O_RDONLY);
    ASSERT_GE(probe, 0);
    EXPECT_NE(::flock(probe, LOCK_EX | LOCK_NB), 0);
    ::close(probe);
  });
  for (const std::string& file : stale) EXPECT_FALSE(fs::exists(file)) << file;
  for (const std::string& file : {alive, other, not_pid, locked})
    EXPECT_TRUE(fs::exists(file)) << file;
  ::close(fd);
  // Unlocked now: the next save removes it too.
  h5::write_atomically(target, [&](hid_t file) { h5::write_doubles(file, "x", {1}, &x); });
  EXPECT_FALSE(fs::exists(locked));
  EXPECT_TRUE(fs::exists(alive));
  // A failed save removes only its own temporary and leaves the stale ones for later.
  touch(stale[0]);
  EXPECT_THROW(h5::write_atomically(target, [](hid_t) { throw std::runtime_error("failed"); }),
               std::runtime_error);
  EXPECT_TRUE(fs::exists(stale[0]));
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
