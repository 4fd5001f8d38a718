// The libhdf5 reader (h5_reader.h), for files with checksummed metadata (superblock version 2 or
// 3): HDF5 verifies each piece of metadata before decoding it, and the Fletcher32 filter guards
// the data. Variable-length strings are refused: the global heap they live in has no checksum.
#include <algorithm>
#include <limits>
#include <type_traits>

#include "check.h"
#include "h5_reader_backends.h"

namespace rootopt::h5 {
namespace {

ValueInfo describe_type(hid_t type, std::vector<hsize_t> extents) {
  ValueInfo info;
  info.extents = std::move(extents);
  info.size = H5Tget_size(type);
  switch (H5Tget_class(type)) {
    case H5T_INTEGER:
      info.cls = ValueClass::integer;
      info.is_signed = H5Tget_sign(type) != H5T_SGN_NONE;
      break;
    case H5T_FLOAT:
      info.cls = ValueClass::floating;
      break;
    case H5T_STRING:
      info.cls = ValueClass::string;
      info.variable_length = H5Tis_variable_str(type) > 0;
      break;
    default:
      info.cls = ValueClass::other;
  }
  return info;
}

#if H5_VERSION_GE(1, 12, 0)
using LinkInfo = H5L_info2_t;
#else
using LinkInfo = H5L_info_t;
#endif

herr_t collect_link(hid_t, const char* name, const LinkInfo*, void* out) {
  static_cast<std::vector<std::string>*>(out)->push_back(name);
  return 0;
}

class LibraryReader final : public Reader {
 public:
  LibraryReader(Id file, const std::string& name) : Reader(name), file_(std::move(file)) {}

  bool reads_variable_length() const override { return false; }

  bool exists(const std::string& path) const override { return h5::exists(file_, path); }

  ValueInfo dataset(const std::string& path) const override {
    const Id set = open_dataset(file_, path, name());
    SilenceErrors quiet;
    const Id type(ROOTOPT_H5_CHECK(H5Dget_type(set), name(), ": type of '", path, "'"), H5Tclose);
    return describe_type(type, dims(set));
  }

  bool is_group(const std::string& path) const override {
    if (!h5::exists(file_, path)) return false;
    SilenceErrors quiet;
#if H5_VERSION_GE(1, 12, 0)
    H5O_info2_t info{};
    const herr_t status =
        H5Oget_info_by_name3(file_, path.c_str(), &info, H5O_INFO_BASIC, H5P_DEFAULT);
#else
    H5O_info_t info{};
    const herr_t status =
        H5Oget_info_by_name2(file_, path.c_str(), &info, H5O_INFO_BASIC, H5P_DEFAULT);
#endif
    return status >= 0 && info.type == H5O_TYPE_GROUP;
  }

  std::vector<std::string> group_members(const std::string& path) const override {
    const Id group = open_group(file_, path, name());
    SilenceErrors quiet;
    std::vector<std::string> names;
    hsize_t index = 0;
#if H5_VERSION_GE(1, 12, 0)
    ROOTOPT_H5_CHECK(H5Literate2(group, H5_INDEX_NAME, H5_ITER_INC, &index, collect_link, &names),
                     name(), ": listing group '", path, "' (", error_stack(), ")");
#else
    ROOTOPT_H5_CHECK(H5Literate(group, H5_INDEX_NAME, H5_ITER_INC, &index, collect_link, &names),
                     name(), ": listing group '", path, "' (", error_stack(), ")");
#endif
    std::sort(names.begin(), names.end());
    return names;
  }

  std::vector<int64_t> read_ints(const std::string& path) const override {
    const ValueInfo info = dataset(path);
    ROOTOPT_CHECK(info.cls == ValueClass::integer, name(), ": dataset '", path,
                  "' is not an integer dataset");
    const Id set = open_dataset(file_, path, name());
    if (info.is_signed || info.size < 8) return read_int64s(set, name() + ":/" + path);
    // HDF5 would clamp unsigned 64-bit values above the int64 range: read them as they are.
    std::vector<int64_t> values;
    for (const uint64_t v : read_uint64s(set, name() + ":/" + path)) {
      ROOTOPT_CHECK(v <= uint64_t(std::numeric_limits<int64_t>::max()), name(), ": dataset '", path,
                    "' holds ", v, ", beyond the int64 range");
      values.push_back(int64_t(v));
    }
    return values;
  }

  std::vector<double> read_doubles(const std::string& path) const override {
    return read_float_data<double>(path);
  }

  std::vector<float> read_floats(const std::string& path) const override {
    return read_float_data<float>(path);
  }

  std::vector<std::string> read_strings(const std::string& path,
                                        size_t max_string_bytes) const override {
    const Id set = open_dataset(file_, path, name());
    return h5::read_strings(set, name() + ":/" + path, max_string_bytes);
  }

  std::optional<ValueInfo> attribute(const std::string& object,
                                     const std::string& attr) const override {
    const Id holder = open_object(object);
    if (!has_attribute(holder, attr)) return std::nullopt;
    SilenceErrors quiet;
    const Id a(ROOTOPT_H5_CHECK(H5Aopen(holder, attr.c_str(), H5P_DEFAULT), name(),
                                ": cannot open attribute '", attr, "' (", error_stack(), ")"),
               H5Aclose);
    const Id type(ROOTOPT_H5_CHECK(H5Aget_type(a), name(), ": attribute '", attr, "'"), H5Tclose);
    const Id space(ROOTOPT_H5_CHECK(H5Aget_space(a), name(), ": attribute '", attr, "'"), H5Sclose);
    const int rank =
        ROOTOPT_H5_CHECK(H5Sget_simple_extent_ndims(space), name(), ": attribute '", attr, "'");
    std::vector<hsize_t> extents(static_cast<size_t>(rank));
    if (rank > 0)
      ROOTOPT_H5_CHECK(H5Sget_simple_extent_dims(space, extents.data(), nullptr), name(),
                       ": attribute '", attr, "'");
    return describe_type(type, std::move(extents));
  }

  int64_t read_int_attribute(const std::string& object, const std::string& attr) const override {
    return h5::read_int_attribute(open_object(object), attr, name());
  }

  double read_double_attribute(const std::string& object, const std::string& attr) const override {
    return h5::read_double_attribute(open_object(object), attr, name());
  }

  std::string read_string_attribute(const std::string& object, const std::string& attr,
                                    StringStorage) const override {
    // Variable-length text is refused whatever the caller accepts (see the file comment).
    return h5::read_string_attribute(open_object(object), attr, name(), StringStorage::fixed_only);
  }

 private:
  Id open_object(const std::string& path) const {
    if (path.empty() || path == "/") {
      SilenceErrors quiet;
      return Id(ROOTOPT_H5_CHECK(H5Oopen(file_, "/", H5P_DEFAULT), name(), ": root group (",
                                 error_stack(), ")"),
                H5Oclose);
    }
    ROOTOPT_CHECK(h5::exists(file_, path), name(), ": missing object '", path, "'");
    SilenceErrors quiet;
    return Id(ROOTOPT_H5_CHECK(H5Oopen(file_, path.c_str(), H5P_DEFAULT), name(), ": cannot open '",
                               path, "' (", error_stack(), ")"),
              H5Oclose);
  }

  template <typename T>
  std::vector<T> read_float_data(const std::string& path) const {
    const ValueInfo info = dataset(path);
    ROOTOPT_CHECK(info.cls == ValueClass::floating && (info.size == 4 || info.size == 8), name(),
                  ": dataset '", path, "' is not a floating-point dataset");
    const Id set = open_dataset(file_, path, name());
    if constexpr (std::is_same_v<T, double>)
      return h5::read_doubles(set, name() + ":/" + path);
    else
      return h5::read_floats(set, name() + ":/" + path);
  }

  Id file_;
};

}  // namespace

std::unique_ptr<Reader> make_library_reader(Id file, const std::string& name) {
  return std::make_unique<LibraryReader>(std::move(file), name);
}

}  // namespace rootopt::h5
