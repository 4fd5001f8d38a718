// h5::Reader (core/h5_reader.h): both backends return what was written. The reference is the
// values written through libhdf5's own writer: a file without checksums (superblock 0, HDF5's
// default, what h5py writes) goes through rootopt's legacy reader, the same content with
// checksums (libver V110) through libhdf5. Plus the format check on both.
#include "h5_reader.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <limits>

#include "h5.h"
#include "table_test_support.h"

namespace fs = std::filesystem;
namespace h5 = rootopt::h5;
using rootopt::testing::expect_error;

namespace {

class H5Reader : public rootopt::testing::ScratchDirTest {};

// File access: HDF5's default (no checksums) or rootopt's hardened bounds.
h5::Id create(const std::string& path, bool checksummed) {
  h5::Id access(H5Pcreate(H5P_FILE_ACCESS), H5Pclose);
  if (checksummed) H5Pset_libver_bounds(access, H5F_LIBVER_V110, H5F_LIBVER_V110);
  return h5::Id(H5Fcreate(path.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, access), H5Fclose);
}

template <typename T>
void attribute(hid_t obj, const char* name, hid_t file_type, hid_t memory_type, T value,
               bool one_element_array = false) {
  const hsize_t one = 1;
  h5::Id space(one_element_array ? H5Screate_simple(1, &one, nullptr) : H5Screate(H5S_SCALAR),
               H5Sclose);
  h5::Id a(H5Acreate2(obj, name, file_type, space, H5P_DEFAULT, H5P_DEFAULT), H5Aclose);
  ASSERT_GE(H5Awrite(a, memory_type, &value), 0) << name;
}

void string_attribute(hid_t obj, const char* name, const std::string& text, size_t size,
                      H5T_str_t pad) {
  h5::Id type(H5Tcopy(H5T_C_S1), H5Tclose);
  H5Tset_size(type, size);
  H5Tset_strpad(type, pad);
  std::vector<char> buffer(size, pad == H5T_STR_SPACEPAD ? ' ' : '\0');
  std::memcpy(buffer.data(), text.data(), std::min(size, text.size()));
  h5::Id space(H5Screate(H5S_SCALAR), H5Sclose);
  h5::Id a(H5Acreate2(obj, name, type, space, H5P_DEFAULT, H5P_DEFAULT), H5Aclose);
  ASSERT_GE(H5Awrite(a, type, buffer.data()), 0);
}

void vlen_attribute(hid_t obj, const char* name, const char* text) {
  h5::Id type(H5Tcopy(H5T_C_S1), H5Tclose);
  H5Tset_size(type, H5T_VARIABLE);
  H5Tset_cset(type, H5T_CSET_UTF8);
  h5::Id space(H5Screate(H5S_SCALAR), H5Sclose);
  h5::Id a(H5Acreate2(obj, name, type, space, H5P_DEFAULT, H5P_DEFAULT), H5Aclose);
  ASSERT_GE(H5Awrite(a, type, &text), 0);
}

template <typename T>
void dataset(hid_t file, const char* name, hid_t file_type, hid_t memory_type,
             std::vector<hsize_t> extents, const std::vector<T>& values,
             H5D_layout_t layout = H5D_CONTIGUOUS) {
  h5::Id space(H5Screate_simple(int(extents.size()), extents.data(), nullptr), H5Sclose);
  h5::Id links(H5Pcreate(H5P_LINK_CREATE), H5Pclose);
  H5Pset_create_intermediate_group(links, 1);
  h5::Id props(H5Pcreate(H5P_DATASET_CREATE), H5Pclose);
  if (layout == H5D_COMPACT) H5Pset_layout(props, H5D_COMPACT);
  if (layout == H5D_CHUNKED) H5Pset_chunk(props, int(extents.size()), extents.data());
  h5::Id set(H5Dcreate2(file, name, file_type, space, links, props, H5P_DEFAULT), H5Dclose);
  ASSERT_GE(set.get(), 0) << name;
  if (!values.empty()) {
    ASSERT_GE(H5Dwrite(set, memory_type, H5S_ALL, H5S_ALL, H5P_DEFAULT, values.data()), 0);
  }
}

constexpr int kManyLinks = 300;      // several symbol-table nodes under a two-level B-tree
constexpr int kManyAttributes = 60;  // object header continuation chunks

const std::vector<int64_t> kInts = {std::numeric_limits<int64_t>::min(), -1, 0, 1, 1LL << 40,
                                    std::numeric_limits<int64_t>::max()};
const std::vector<double> kDoubles = {0.1, -2.5e300, 5e-324, 0, -0.0, 1.0 / 3};
const std::vector<float> kFloats = {1.5f, -3.25e38f, 1e-45f, 0.1f};
const std::vector<int16_t> kShorts = {-32768, -1, 0, 1, 32767};

void write_sample(const std::string& path, bool checksummed) {
  h5::Id file = create(path, checksummed);
  ASSERT_GE(file.get(), 0);
  attribute<int8_t>(file, "i8", H5T_STD_I8LE, H5T_NATIVE_INT8, -5);
  attribute<uint16_t>(file, "u16", H5T_STD_U16LE, H5T_NATIVE_UINT16, 65535);
  attribute<int32_t>(file, "i32", H5T_STD_I32LE, H5T_NATIVE_INT32, -123456);
  attribute<int64_t>(file, "i64", H5T_STD_I64LE, H5T_NATIVE_INT64, kInts[0]);
  attribute<uint64_t>(file, "u64", H5T_STD_U64LE, H5T_NATIVE_UINT64, (uint64_t(1) << 63) + 5);
  attribute<float>(file, "f32", H5T_IEEE_F32LE, H5T_NATIVE_FLOAT, 1.5f);
  attribute<double>(file, "f64", H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, 0.1, true);
  attribute<double>(file, "big_endian", H5T_IEEE_F64BE, H5T_NATIVE_DOUBLE, 2.0);
  string_attribute(file, "nullpad", "abc", 5, H5T_STR_NULLPAD);
  string_attribute(file, "nullterm", "xy", 4, H5T_STR_NULLTERM);
  string_attribute(file, "spacepad", "ab", 6, H5T_STR_SPACEPAD);
  vlen_attribute(file, "vlen", "héllo, wörld");
  vlen_attribute(file, "vlen_empty", "");
  for (int i = 0; i < kManyAttributes; ++i)
    attribute<int64_t>(file, ("a" + std::to_string(i)).c_str(), H5T_STD_I64LE, H5T_NATIVE_INT64,
                       i * 7);
  dataset(file, "ints", H5T_STD_I64LE, H5T_NATIVE_INT64, {3, 2}, kInts);
  dataset(file, "small_ints", H5T_STD_I16LE, H5T_NATIVE_INT16, {5}, kShorts);
  dataset(file, "bytes", H5T_STD_U8LE, H5T_NATIVE_UINT8, {3}, std::vector<uint8_t>{0, 7, 255});
  dataset(file, "doubles", H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, {2, 3}, kDoubles);
  dataset(file, "floats", H5T_IEEE_F32LE, H5T_NATIVE_FLOAT, {4}, kFloats);
  dataset(file, "compact", H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, {6}, kDoubles, H5D_COMPACT);
  dataset(file, "chunked", H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, {6}, kDoubles, H5D_CHUNKED);
  dataset(file, "empty", H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, {0, 3}, std::vector<double>());
  dataset(file, "g/h/deep", H5T_STD_I64LE, H5T_NATIVE_INT64, {1}, std::vector<int64_t>{42});
  {
    h5::Id type(H5Tcopy(H5T_C_S1), H5Tclose);  // fixed-length, 3 bytes, NUL-padded
    H5Tset_size(type, 3);
    H5Tset_strpad(type, H5T_STR_NULLPAD);
    const char text[12] = {'a', 0, 0, 'b', 'c', 'd', 0, 0, 0, '\xc3', '\xa9', 0};
    const hsize_t extents[2] = {2, 2};
    h5::Id space(H5Screate_simple(2, extents, nullptr), H5Sclose);
    h5::Id set(H5Dcreate2(file, "strings", type, space, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT),
               H5Dclose);
    ASSERT_GE(H5Dwrite(set, type, H5S_ALL, H5S_ALL, H5P_DEFAULT, text), 0);
  }
  {
    h5::Id deep(H5Dopen2(file, "g/h/deep", H5P_DEFAULT), H5Dclose);
    vlen_attribute(deep, "name", "layers.0.w");
  }
  for (int i = 0; i < kManyLinks; ++i)
    dataset(file, ("many/" + std::to_string(i)).c_str(), H5T_STD_I64LE, H5T_NATIVE_INT64, {1},
            std::vector<int64_t>{i});
}

std::string read_bytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

// The same checks on both backends.
void expect_sample(const h5::Reader& r, bool legacy) {
  const std::string f = r.name();
  EXPECT_EQ(r.reads_variable_length(), legacy);
  EXPECT_EQ(r.read_int_attribute("", "i8"), -5);
  EXPECT_EQ(r.read_int_attribute("", "u16"), 65535);
  EXPECT_EQ(r.read_int_attribute("", "i32"), -123456);
  EXPECT_EQ(r.read_int_attribute("", "i64"), kInts[0]);
  EXPECT_EQ(r.read_double_attribute("", "f32"), 1.5);
  EXPECT_EQ(r.read_double_attribute("", "f64"), 0.1);
  EXPECT_EQ(r.read_double_attribute("", "i32"), -123456.0);
  EXPECT_EQ(r.read_string_attribute("", "nullpad", h5::StringStorage::fixed_only), "abc");
  EXPECT_EQ(r.read_string_attribute("", "nullterm", h5::StringStorage::fixed_only), "xy");
  for (int i = 0; i < kManyAttributes; i += 13)
    EXPECT_EQ(r.read_int_attribute("", "a" + std::to_string(i)), i * 7);
  EXPECT_FALSE(r.attribute("", "absent").has_value());
  const auto vlen = r.attribute("", "vlen");
  ASSERT_TRUE(vlen.has_value());
  EXPECT_EQ(vlen->cls, h5::ValueClass::string);
  EXPECT_TRUE(vlen->variable_length);
  expect_error([&] { r.read_string_attribute("", "vlen", h5::StringStorage::fixed_only); },
               {f, "'vlen'", "variable-length"});
  if (legacy) {
    EXPECT_EQ(r.read_string_attribute("", "vlen", h5::StringStorage::fixed_or_variable),
              "héllo, wörld");
    EXPECT_EQ(r.read_string_attribute("", "vlen_empty", h5::StringStorage::fixed_or_variable), "");
    EXPECT_EQ(r.read_string_attribute("", "spacepad", h5::StringStorage::fixed_only), "ab");
    EXPECT_EQ(r.read_string_attribute("g/h/deep", "name", h5::StringStorage::fixed_or_variable),
              "layers.0.w");
    expect_error([&] { r.read_int_attribute("", "u64"); }, {f, "beyond the int64 range"});
    EXPECT_EQ(r.attribute("", "big_endian")->cls, h5::ValueClass::other);
  }
  expect_error([&] { r.read_int_attribute("", "f64"); }, {f, "'f64'", "not an integer"});
  expect_error([&] { r.read_int_attribute("", "absent"); }, {f, "missing attribute 'absent'"});

  const h5::ValueInfo ints = r.dataset("ints");
  EXPECT_EQ(ints.cls, h5::ValueClass::integer);
  EXPECT_EQ(ints.size, 8u);
  EXPECT_EQ(ints.extents, (std::vector<hsize_t>{3, 2}));
  EXPECT_EQ(r.read_ints("ints"), kInts);
  EXPECT_EQ(r.dataset("small_ints").size, 2u);
  EXPECT_EQ(r.read_ints("small_ints"), (std::vector<int64_t>{-32768, -1, 0, 1, 32767}));
  EXPECT_EQ(r.read_ints("bytes"), (std::vector<int64_t>{0, 7, 255}));
  const std::vector<double> doubles = r.read_doubles("doubles");
  ASSERT_EQ(doubles.size(), kDoubles.size());
  for (size_t i = 0; i < doubles.size(); ++i)
    EXPECT_EQ(std::memcmp(&doubles[i], &kDoubles[i], 8), 0) << i;  // bit-exact, -0.0 included
  EXPECT_EQ(r.read_floats("floats"), kFloats);
  EXPECT_EQ(r.read_doubles("compact"), kDoubles);
  EXPECT_TRUE(r.read_doubles("empty").empty());
  EXPECT_EQ(r.dataset("empty").extents, (std::vector<hsize_t>{0, 3}));
  EXPECT_EQ(r.read_ints("g/h/deep"), std::vector<int64_t>{42});
  EXPECT_EQ(r.read_strings("strings", 16), (std::vector<std::string>{"a", "bcd", "", "é"}));
  expect_error([&] { r.read_ints("doubles"); }, {f, "'doubles'", "not an integer"});
  expect_error([&] { r.dataset("absent"); }, {f, "missing dataset 'absent'"});
  expect_error([&] { r.dataset("g"); }, {f, "'g'", "as a dataset"});

  EXPECT_TRUE(r.exists("g/h/deep"));
  EXPECT_FALSE(r.exists("g/nope"));
  EXPECT_FALSE(r.exists("ints/below_a_dataset"));
  EXPECT_TRUE(r.is_group("g/h"));
  EXPECT_FALSE(r.is_group("ints"));
  EXPECT_EQ(r.group_members("g"), std::vector<std::string>{"h"});
  std::vector<std::string> names = r.group_members("many");
  ASSERT_EQ(names.size(), size_t(kManyLinks));
  std::sort(names.begin(), names.end(),
            [](const std::string& a, const std::string& b) { return std::stoi(a) < std::stoi(b); });
  for (int i = 0; i < kManyLinks; ++i) EXPECT_EQ(names[size_t(i)], std::to_string(i));
  EXPECT_EQ(r.read_ints("many/" + std::to_string(kManyLinks - 1)),
            std::vector<int64_t>{kManyLinks - 1});
}

TEST_F(H5Reader, LegacyReaderReadsWhatHdf5Wrote) {
  write_sample(path("plain.h5"), false);
  const auto reader = h5::open_image_reader(read_bytes(path("plain.h5")), "plain.h5");
  expect_sample(*reader, true);
  // The subset it reads, and nothing beyond: chunked data needs checksummed metadata.
  expect_error([&] { reader->read_doubles("chunked"); }, {"plain.h5", "'chunked'", "chunked"});
  // The same through a mapping of the file.
  expect_sample(*h5::open_file_reader(path("plain.h5")), true);
}

TEST_F(H5Reader, LibraryReaderReadsChecksummedFiles) {
  write_sample(path("checked.h5"), true);
  const auto reader = h5::open_image_reader(read_bytes(path("checked.h5")), "checked.h5");
  expect_sample(*reader, false);
  EXPECT_EQ(reader->read_doubles("chunked"), kDoubles);
  expect_error(
      [&] { reader->read_string_attribute("", "vlen", h5::StringStorage::fixed_or_variable); },
      {"checked.h5", "'vlen'", "variable-length"});
  expect_sample(*h5::open_file_reader(path("checked.h5")), false);
}

// Cut anywhere, a file without checksums is an error naming the file (mostly "truncated").
TEST_F(H5Reader, LegacyReaderRefusesTruncatedFiles) {
  write_sample(path("plain.h5"), false);
  const std::string image = read_bytes(path("plain.h5"));
  for (size_t size = 0; size < image.size(); size += 97) {
    try {
      const auto reader = h5::open_image_reader(image.substr(0, size), "cut.h5");
      expect_sample(*reader, true);
      ADD_FAILURE() << "a file cut to " << size << " bytes read completely";
    } catch (const rootopt::Error& e) {
      EXPECT_NE(std::string(e.what()).find("cut.h5"), std::string::npos) << e.what();
    }
  }
}

void write_format(const std::string& path, bool checksummed, bool variable, const char* format,
                  int64_t version) {
  h5::Id file = create(path, checksummed);
  if (variable)
    vlen_attribute(file, "format", format);
  else
    string_attribute(file, "format", format, std::strlen(format), H5T_STR_NULLPAD);
  attribute<int64_t>(file, "format_version", H5T_STD_I64LE, H5T_NATIVE_INT64, version);
}

TEST_F(H5Reader, CheckFormatNamesTheFileAndTheMismatch) {
  const h5::FileFormat state{"rootopt.state", "rootopt state file", 1, 3, 2};
  for (const bool checksummed : {false, true}) {
    const std::string good = path(checksummed ? "good3.h5" : "good0.h5");
    write_format(good, checksummed, false, "rootopt.state", 2);
    const auto r = h5::open_file_reader(good);
    EXPECT_EQ(h5::check_format(*r, state), 2);
    expect_error(
        [&] {
          h5::check_format(*r, {"rootopt.other", "other file", 2, 2, 2});
        },
        {good, "'rootopt.state'", "expected 'rootopt.other'", "not a other file"});
    expect_error(
        [&] {
          h5::check_format(*r, {"rootopt.state", "state", 3, 3, 3});
        },
        {good, "unknown format_version 2", "reads version 3)"});
    expect_error(
        [&] {
          h5::check_format(*r, {"rootopt.state", "state", 3, 4, 3});
        },
        {good, "unknown format_version 2", "reads versions 3 to 4"});
  }
  { h5::Id file = create(path("bare.h5"), true); }
  expect_error([&] { h5::check_format(*h5::open_file_reader(path("bare.h5")), state); },
               {"bare.h5", "not a rootopt state file", "no root attribute 'format'"});
}

// A variable-length `format` is accepted only for the versions that wrote it so; its text is
// compared where it can be read safely (the legacy reader).
TEST_F(H5Reader, CheckFormatReadsVariableLengthOnlyForOldVersions) {
  const h5::FileFormat state{"rootopt.state", "rootopt state file", 1, 3, 2};
  write_format(path("v1.h5"), false, true, "rootopt.state", 1);
  EXPECT_EQ(h5::check_format(*h5::open_file_reader(path("v1.h5")), state), 1);
  write_format(path("other.h5"), false, true, "rootopt.other", 1);
  expect_error([&] { h5::check_format(*h5::open_file_reader(path("other.h5")), state); },
               {"other.h5", "format is 'rootopt.other'"});
  write_format(path("v2.h5"), false, true, "rootopt.state", 2);
  expect_error([&] { h5::check_format(*h5::open_file_reader(path("v2.h5")), state); },
               {"v2.h5", "variable-length", "version 2 files store it fixed-length"});
  write_format(path("v1_checked.h5"), true, true, "rootopt.other", 1);  // text not readable
  EXPECT_EQ(h5::check_format(*h5::open_file_reader(path("v1_checked.h5")), state), 1);
}

TEST_F(H5Reader, OpenErrorsNameTheFile) {
  expect_error([&] { h5::open_file_reader(path("absent.h5")); }, {"absent.h5", "no such file"});
  std::ofstream(path("text.h5")) << "not HDF5\n";
  expect_error([&] { h5::open_file_reader(path("text.h5")); }, {"text.h5", "not an HDF5 file"});
  std::ofstream(path("zero.h5")).close();
  expect_error([&] { h5::open_file_reader(path("zero.h5")); }, {"zero.h5", "not an HDF5 file"});
  expect_error([&] { h5::open_image_reader("", "mem.h5"); }, {"mem.h5", "not an HDF5 file"});
}

}  // namespace
