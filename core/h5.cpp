// HDF5 C API helpers: RAII ids, checked reads/writes, attributes, recursive listing, in-memory
// file images, the hardened writer settings and the temporary-file-plus-rename protocol behind
// every rootopt writer.
#include "h5.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/file.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <limits>
#include <new>

namespace rootopt::h5 {

Id& Id::operator=(Id&& o) noexcept {
  if (this != &o) {
    reset();
    id_ = o.id_;
    closer_ = o.closer_;
    o.id_ = H5I_INVALID_HID;
  }
  return *this;
}

void Id::reset() { close(); }

herr_t Id::close() {
  herr_t status = 0;
  if (id_ >= 0 && closer_ != nullptr) status = closer_(id_);
  id_ = H5I_INVALID_HID;
  return status;
}

SilenceErrors::SilenceErrors() {
  H5Eget_auto2(H5E_DEFAULT, &func_, &data_);
  H5Eset_auto2(H5E_DEFAULT, nullptr, nullptr);
}

SilenceErrors::~SilenceErrors() { H5Eset_auto2(H5E_DEFAULT, func_, data_); }

namespace {

herr_t collect_error(unsigned, const H5E_error2_t* error, void* out) {
  auto& text = *static_cast<std::string*>(out);
  if (error->desc != nullptr && error->desc[0] != '\0') {
    if (!text.empty()) text += "; ";
    text += error->desc;
  }
  return 0;
}

// File access properties: HDF5's file locking stays on, but a file system without lock support
// (NFS, Lustre, some containers) no longer makes every open fail.
Id file_access(const std::string& path) {
  Id access(ROOTOPT_H5_CHECK(H5Pcreate(H5P_FILE_ACCESS), path, ": file access properties"),
            H5Pclose);
#if H5_VERSION_GE(1, 10, 7)
  ROOTOPT_H5_CHECK(H5Pset_file_locking(access, 1, 1), path, ": file locking properties");
#endif
  return access;
}

// The largest chunk a writer makes: the whole dataset up to this size (every table dataset is
// one chunk), larger ones (optimizer state of big batched parameters) split along their leading
// dimensions. HDF5's own limit is 4 GiB per chunk.
constexpr hsize_t kMaxChunkBytes = hsize_t(8) << 20;
// An attribute is one value, stored in its object header (64 KiB at most in HDF5 1.10).
constexpr size_t kMaxAttributeStringBytes = size_t(1) << 16;

// An in-memory file image is opened under "<name>#rootopt-image-<n>": HDF5's core driver refuses
// a name that exists on disk, and a name shared by two open images would make HDF5 treat them as
// one file. describe() shows <name>.
constexpr const char* kImageMark = "#rootopt-image-";

std::string image_name(const std::string& name) {
  static std::atomic<uint64_t> counter{0};
  for (;;) {
    std::string unique = name + kImageMark + std::to_string(counter.fetch_add(1));
    std::error_code ec;
    if (!std::filesystem::exists(unique, ec) && !ec) return unique;
  }
}

// Chunk extents for a dataset of `extents`: see kMaxChunkBytes.
std::vector<hsize_t> chunk_extents(const std::vector<hsize_t>& extents, size_t element_size) {
  std::vector<hsize_t> chunk = extents;
  for (size_t i = 0; i < chunk.size(); ++i) {
    hsize_t inner = element_size;  // bytes of one index step along dimension i
    for (size_t j = i + 1; j < chunk.size(); ++j) inner *= chunk[j];
    if (inner * chunk[i] <= kMaxChunkBytes) break;
    if (inner <= kMaxChunkBytes) {
      chunk[i] = kMaxChunkBytes / inner;
      break;
    }
    chunk[i] = 1;
  }
  return chunk;
}

// Dataset creation properties: chunked with the Fletcher32 checksum filter (non-empty data).
Id checksummed_layout(const std::vector<hsize_t>& extents, size_t element_size,
                      const std::string& where) {
  Id props(ROOTOPT_H5_CHECK(H5Pcreate(H5P_DATASET_CREATE), "properties for ", where), H5Pclose);
  const std::vector<hsize_t> chunk = chunk_extents(extents, element_size);
  ROOTOPT_H5_CHECK(H5Pset_chunk(props, static_cast<int>(chunk.size()), chunk.data()), "chunking ",
                   where);
  ROOTOPT_H5_CHECK(H5Pset_fletcher32(props), "checksum filter for ", where);
  return props;
}

// "file.h5:/group/name" for an open object, so messages from id-only helpers name both.
std::string describe(hid_t obj) {
  std::string file(static_cast<size_t>(std::max<ssize_t>(H5Fget_name(obj, nullptr, 0), 0)), '\0');
  if (!file.empty()) H5Fget_name(obj, file.data(), file.size() + 1);
  if (const size_t mark = file.rfind(kImageMark); mark != std::string::npos) file.resize(mark);
  std::string name(static_cast<size_t>(std::max<ssize_t>(H5Iget_name(obj, nullptr, 0), 0)), '\0');
  if (!name.empty()) H5Iget_name(obj, name.data(), name.size() + 1);
  return file + ":" + name;
}

// "file.h5:/group/child" for a child `name` of `loc`.
std::string describe(hid_t loc, const std::string& name) {
  std::string where = describe(loc);
  if (where.back() != '/') where += '/';
  return where + name;
}

// Link-creation properties that create missing parent groups ("metrics/fit_error" creates
// "metrics" on the way).
Id creating_parents(const std::string& where) {
  Id props(ROOTOPT_H5_CHECK(H5Pcreate(H5P_LINK_CREATE), "properties for ", where), H5Pclose);
  ROOTOPT_H5_CHECK(H5Pset_create_intermediate_group(props, 1), "properties for ", where);
  return props;
}

// A buffer of `count` elements, or an error naming `what` instead of std::bad_alloc.
template <typename T>
std::vector<T> allocate(hsize_t count, const std::string& what) {
  try {
    return std::vector<T>(static_cast<size_t>(count));
  } catch (const std::bad_alloc&) {
  } catch (const std::length_error&) {
  }
  ROOTOPT_FAIL(what, ": ", count, " values do not fit in memory");
}

template <typename T>
std::vector<T> read_all(hid_t dataset, hid_t memory_type, const std::string& what) {
  SilenceErrors quiet;
  std::vector<T> values = allocate<T>(element_count(dims(dataset), what), what);
  if (values.empty()) return values;  // H5Dread rejects a null buffer for zero elements
  ROOTOPT_H5_CHECK(H5Dread(dataset, memory_type, H5S_ALL, H5S_ALL, H5P_DEFAULT, values.data()),
                   "reading ", what, " (", error_stack(), ")");
  return values;
}

void write_dataset(hid_t loc, const std::string& name, const std::vector<hsize_t>& extents,
                   hid_t file_type, hid_t memory_type, const void* data) {
  SilenceErrors quiet;
  const std::string where = describe(loc, name);
  Id space(
      ROOTOPT_H5_CHECK(H5Screate_simple(static_cast<int>(extents.size()), extents.data(), nullptr),
                       "dataspace for ", where),
      H5Sclose);
  Id link_props = creating_parents(where);
  const bool empty = element_count(extents, where) == 0;
  const size_t element_size = H5Tget_size(file_type);
  ROOTOPT_ASSERT(element_size > 0, "element size of ", where);
  Id layout = empty ? Id() : checksummed_layout(extents, element_size, where);
  Id dataset(ROOTOPT_H5_CHECK(H5Dcreate2(loc, name.c_str(), file_type, space, link_props,
                                         empty ? H5P_DEFAULT : layout.get(), H5P_DEFAULT),
                              "creating dataset ", where, " (", error_stack(), ")"),
             H5Dclose);
  if (empty) return;
  ROOTOPT_H5_CHECK(H5Dwrite(dataset, memory_type, H5S_ALL, H5S_ALL, H5P_DEFAULT, data),
                   "writing dataset ", where, " (", error_stack(), ")");
}

// Fixed-length UTF-8 string type of `size` bytes, NUL-padded (what h5py writes for np.bytes_).
Id fixed_string_type(size_t size, const std::string& where) {
  Id type(ROOTOPT_H5_CHECK(H5Tcopy(H5T_C_S1), "string type for ", where), H5Tclose);
  ROOTOPT_H5_CHECK(H5Tset_size(type, std::max<size_t>(size, 1)), "string type for ", where);
  ROOTOPT_H5_CHECK(H5Tset_strpad(type, H5T_STR_NULLPAD), "string type for ", where);
  ROOTOPT_H5_CHECK(H5Tset_cset(type, H5T_CSET_UTF8), "string type for ", where);
  return type;
}

void check_no_nul(const std::string& value, const std::string& where) {
  ROOTOPT_CHECK(value.find('\0') == std::string::npos, where,
                ": text contains a NUL character, which a fixed-length HDF5 string cannot hold");
}

// Creates (replacing any existing) scalar attribute `name` of type `type` on `obj`.
Id create_attribute(hid_t obj, const std::string& name, hid_t type) {
  const std::string where = describe(obj) + " attribute " + name;
  if (has_attribute(obj, name)) ROOTOPT_H5_CHECK(H5Adelete(obj, name.c_str()), "replacing ", where);
  Id space(ROOTOPT_H5_CHECK(H5Screate(H5S_SCALAR), "dataspace for ", where), H5Sclose);
  return Id(ROOTOPT_H5_CHECK(H5Acreate2(obj, name.c_str(), type, space, H5P_DEFAULT, H5P_DEFAULT),
                             "creating ", where, " (", error_stack(), ")"),
            H5Aclose);
}

Id open_attribute(hid_t obj, const std::string& name, const std::string& file) {
  ROOTOPT_CHECK(has_attribute(obj, name), file, ": missing attribute '", name, "'");
  return Id(ROOTOPT_H5_CHECK(H5Aopen(obj, name.c_str(), H5P_DEFAULT), file,
                             ": cannot open attribute '", name, "'"),
            H5Aclose);
}

H5T_class_t attribute_class(hid_t attribute, const std::string& name, const std::string& file) {
  Id type(ROOTOPT_H5_CHECK(H5Aget_type(attribute), file, ": type of attribute '", name, "'"),
          H5Tclose);
  return ROOTOPT_H5_CHECK(H5Tget_class(type), file, ": type of attribute '", name, "'");
}

// Attributes hold one value: rootopt writes scalars, h5py may write 1-element arrays.
void check_single_value(hid_t attribute, const std::string& name, const std::string& file) {
  Id space(ROOTOPT_H5_CHECK(H5Aget_space(attribute), file, ": attribute '", name, "'"), H5Sclose);
  const hssize_t count =
      ROOTOPT_H5_CHECK(H5Sget_simple_extent_npoints(space), file, ": attribute '", name, "'");
  ROOTOPT_CHECK(count == 1, file, ": attribute '", name, "' holds ", count,
                " values, expected one");
}

// One integer (or, with `accept_float`, integer or float) scalar attribute.
template <typename T>
T read_number_attribute(hid_t obj, const std::string& name, const std::string& file,
                        hid_t memory_type, bool accept_float) {
  SilenceErrors quiet;
  Id attribute = open_attribute(obj, name, file);
  const H5T_class_t cls = attribute_class(attribute, name, file);
  ROOTOPT_CHECK(cls == H5T_INTEGER || (accept_float && cls == H5T_FLOAT), file, ": attribute '",
                name, "' is not ", accept_float ? "a number" : "an integer");
  check_single_value(attribute, name, file);
  T value{};
  ROOTOPT_H5_CHECK(H5Aread(attribute, memory_type, &value), file, ": reading attribute '", name,
                   "' (", error_stack(), ")");
  return value;
}

// Whether `pid` is a running process on this machine (EPERM: it exists, owned by someone else).
bool process_alive(long pid) { return ::kill(static_cast<pid_t>(pid), 0) == 0 || errno == EPERM; }

// Whether some process holds a lock on `file` (HDF5 holds one on a file it writes).
bool locked_by_another(const std::string& file) {
  const int fd = ::open(file.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return true;  // cannot tell: keep it
  const bool locked = ::flock(fd, LOCK_EX | LOCK_NB) != 0;
  ::close(fd);  // releases the probe's own lock
  return locked;
}

#if H5_VERSION_GE(1, 12, 0)
using ObjectInfo = H5O_info2_t;
#else
using ObjectInfo = H5O_info_t;
#endif

herr_t collect_dataset(hid_t, const char* name, const ObjectInfo* info, void* out) {
  if (info->type == H5O_TYPE_DATASET)
    static_cast<std::vector<std::string>*>(out)->push_back(std::string("/") + name);
  return 0;
}

}  // namespace

std::string error_stack() {
  std::string text;
  H5Ewalk2(H5E_DEFAULT, H5E_WALK_DOWNWARD, collect_error, &text);
  return text;
}

Id open_file(const std::string& path) {
  SilenceErrors quiet;
  std::error_code ec;
  ROOTOPT_CHECK(std::filesystem::is_regular_file(path, ec), path,
                ": no such file (or not a regular file)");
  const htri_t is_hdf5 = H5Fis_hdf5(path.c_str());
  ROOTOPT_CHECK(is_hdf5 >= 0, path, ": unreadable file (", error_stack(), ")");
  ROOTOPT_CHECK(is_hdf5 > 0, path, ": not an HDF5 file");
  Id access = file_access(path);
  return Id(ROOTOPT_H5_CHECK(H5Fopen(path.c_str(), H5F_ACC_RDONLY, access), path,
                             ": cannot open HDF5 file, damaged or truncated (", error_stack(), ")"),
            H5Fclose);
}

std::optional<uint64_t> signature_offset(std::string_view bytes) {
  static constexpr char kSignature[] = "\211HDF\r\n\032\n";
  for (uint64_t offset = 0; offset + 8 <= bytes.size(); offset = offset == 0 ? 512 : 2 * offset)
    if (std::memcmp(bytes.data() + offset, kSignature, 8) == 0) return offset;
  return std::nullopt;
}

std::string read_image(const std::string& path, uint64_t max_bytes) {
  std::error_code ec;
  ROOTOPT_CHECK(std::filesystem::is_regular_file(path, ec), path,
                ": no such file (or not a regular file)");
  const uintmax_t size = std::filesystem::file_size(path, ec);
  ROOTOPT_CHECK(!ec, path, ": cannot read the file size: ", ec.message());
  ROOTOPT_CHECK(size <= max_bytes, path, ": ", size, " bytes, more than the ", max_bytes,
                " bytes this kind of file can have");
  std::ifstream in(path, std::ios::binary);
  ROOTOPT_CHECK(in.good(), path, ": cannot open: ", std::strerror(errno));
  std::string image(static_cast<size_t>(size), '\0');
  in.read(image.data(), static_cast<std::streamsize>(size));
  ROOTOPT_CHECK(in.gcount() == static_cast<std::streamsize>(size), path,
                ": cannot read the whole file (it changed while being read?)");
  return image;
}

Id open_image(const std::string& image, const std::string& name) {
  SilenceErrors quiet;
  ROOTOPT_CHECK(signature_offset(image).has_value(), name, ": not an HDF5 file");
  Id access(ROOTOPT_H5_CHECK(H5Pcreate(H5P_FILE_ACCESS), name, ": file access properties"),
            H5Pclose);
  // The core (memory) driver without a backing store: nothing on disk is opened or written.
  ROOTOPT_H5_CHECK(H5Pset_fapl_core(access, 1 << 16, 0), name, ": file access properties");
  ROOTOPT_H5_CHECK(H5Pset_file_image(access, const_cast<char*>(image.data()), image.size()), name,
                   ": file image");
  return Id(ROOTOPT_H5_CHECK(H5Fopen(image_name(name).c_str(), H5F_ACC_RDONLY, access), name,
                             ": cannot open HDF5 file, damaged or truncated (", error_stack(), ")"),
            H5Fclose);
}

Id create_file(const std::string& path) {
  SilenceErrors quiet;
  Id access = file_access(path);
#if H5_VERSION_GE(1, 10, 2)
  // V110 for both bounds: checksummed metadata, and still readable by every HDF5 1.10 reader.
  ROOTOPT_H5_CHECK(H5Pset_libver_bounds(access, H5F_LIBVER_V110, H5F_LIBVER_V110), path,
                   ": format version bounds");
#else
#error "rootopt needs HDF5 1.10.2 or newer (checksummed metadata, H5F_LIBVER_V110)"
#endif
  return Id(ROOTOPT_H5_CHECK(H5Fcreate(path.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, access), path,
                             ": cannot create HDF5 file (", error_stack(), ")"),
            H5Fclose);
}

bool exists(hid_t loc, const std::string& name) {
  if (name.empty()) return false;
  SilenceErrors quiet;
  // H5Lexists needs every intermediate group to exist, so walk the path one link at a time.
  std::string prefix;
  size_t start = name.front() == '/' ? 1 : 0;
  if (start == 1) prefix = "/";
  while (start <= name.size()) {
    size_t end = name.find('/', start);
    if (end == std::string::npos) end = name.size();
    if (end > start) {
      prefix += name.substr(start, end - start);
      if (H5Lexists(loc, prefix.c_str(), H5P_DEFAULT) <= 0) return false;
      prefix += "/";
    }
    start = end + 1;
  }
  return H5Oexists_by_name(loc, name.c_str(), H5P_DEFAULT) > 0;
}

void create_group(hid_t loc, const std::string& name) {
  SilenceErrors quiet;
  const std::string where = describe(loc, name);
  Id link_props = creating_parents(where);
  Id group(ROOTOPT_H5_CHECK(H5Gcreate2(loc, name.c_str(), link_props, H5P_DEFAULT, H5P_DEFAULT),
                            "creating group ", where, " (", error_stack(), ")"),
           H5Gclose);
}

Id open_dataset(hid_t loc, const std::string& name, const std::string& file) {
  ROOTOPT_CHECK(!name.empty() && exists(loc, name), file, ": missing dataset '", name, "'");
  SilenceErrors quiet;
  return Id(ROOTOPT_H5_CHECK(H5Dopen2(loc, name.c_str(), H5P_DEFAULT), file, ": cannot open '",
                             name, "' as a dataset (", error_stack(), ")"),
            H5Dclose);
}

Id open_group(hid_t loc, const std::string& name, const std::string& file) {
  ROOTOPT_CHECK(exists(loc, name), file, ": missing group '", name, "'");
  SilenceErrors quiet;
  return Id(ROOTOPT_H5_CHECK(H5Gopen2(loc, name.c_str(), H5P_DEFAULT), file, ": '", name,
                             "' is not a group (", error_stack(), ")"),
            H5Gclose);
}

hsize_t element_count(const std::vector<hsize_t>& extents, const std::string& what) {
  hsize_t count = 1;
  for (hsize_t d : extents) {
    ROOTOPT_CHECK(d == 0 || count <= std::numeric_limits<hsize_t>::max() / d, what,
                  ": the dataset's extents overflow 64 bits (damaged file)");
    count *= d;
  }
  return count;
}

std::vector<hsize_t> dims(hid_t dataset) {
  SilenceErrors quiet;
  Id space(ROOTOPT_H5_CHECK(H5Dget_space(dataset), "dataspace of ", describe(dataset)), H5Sclose);
  const int rank =
      ROOTOPT_H5_CHECK(H5Sget_simple_extent_ndims(space), "rank of ", describe(dataset));
  std::vector<hsize_t> extents(static_cast<size_t>(rank));
  if (rank > 0)
    ROOTOPT_H5_CHECK(H5Sget_simple_extent_dims(space, extents.data(), nullptr), "extents of ",
                     describe(dataset));
  return extents;
}

H5T_class_t type_class(hid_t dataset) {
  SilenceErrors quiet;
  Id type(ROOTOPT_H5_CHECK(H5Dget_type(dataset), "type of ", describe(dataset)), H5Tclose);
  return ROOTOPT_H5_CHECK(H5Tget_class(type), "type class of ", describe(dataset));
}

size_t type_size(hid_t dataset) {
  SilenceErrors quiet;
  Id type(ROOTOPT_H5_CHECK(H5Dget_type(dataset), "type of ", describe(dataset)), H5Tclose);
  const size_t size = H5Tget_size(type);
  ROOTOPT_CHECK(size > 0, "type size of ", describe(dataset), " (", error_stack(), ")");
  return size;
}

std::vector<double> read_doubles(hid_t dataset, const std::string& what) {
  return read_all<double>(dataset, H5T_NATIVE_DOUBLE, what);
}

std::vector<float> read_floats(hid_t dataset, const std::string& what) {
  return read_all<float>(dataset, H5T_NATIVE_FLOAT, what);
}

std::vector<int64_t> read_int64s(hid_t dataset, const std::string& what) {
  return read_all<int64_t>(dataset, H5T_NATIVE_INT64, what);
}

std::vector<uint64_t> read_uint64s(hid_t dataset, const std::string& what) {
  return read_all<uint64_t>(dataset, H5T_NATIVE_UINT64, what);
}

std::vector<std::string> read_strings(hid_t dataset, const std::string& what,
                                      size_t max_string_bytes) {
  SilenceErrors quiet;
  Id stored(ROOTOPT_H5_CHECK(H5Dget_type(dataset), "type of ", what), H5Tclose);
  ROOTOPT_CHECK(H5Tget_class(stored) == H5T_STRING, what, " is not a string dataset");
  ROOTOPT_CHECK(H5Tis_variable_str(stored) == 0, what,
                " holds variable-length strings; this format stores fixed-length strings "
                "(h5py: np.bytes_ values or dtype 'S')");
  const size_t size = H5Tget_size(stored);
  ROOTOPT_CHECK(size > 0 && size <= max_string_bytes, what, ": string size ", size,
                " bytes is outside [1, ", max_string_bytes, "]");
  const hsize_t count = element_count(dims(dataset), what);
  ROOTOPT_CHECK(count <= std::numeric_limits<hsize_t>::max() / size, what,
                ": the dataset's extents overflow 64 bits (damaged file)");
  std::vector<char> buffer = allocate<char>(count * size, what);
  std::vector<std::string> values;
  if (count == 0) return values;
  // The stored type as memory type: the bytes arrive as written (no character set conversion).
  Id memory(ROOTOPT_H5_CHECK(H5Tcopy(stored), "type of ", what), H5Tclose);
  ROOTOPT_H5_CHECK(H5Dread(dataset, memory, H5S_ALL, H5S_ALL, H5P_DEFAULT, buffer.data()),
                   "reading ", what, " (", error_stack(), ")");
  const bool space_padded = H5Tget_strpad(stored) == H5T_STR_SPACEPAD;
  values.reserve(static_cast<size_t>(count));
  for (hsize_t i = 0; i < count; ++i) {
    const char* text = buffer.data() + i * size;
    size_t length = space_padded ? size : strnlen(text, size);
    while (space_padded && length > 0 && text[length - 1] == ' ') --length;
    values.emplace_back(text, length);
  }
  return values;
}

void write_doubles(hid_t loc, const std::string& name, const std::vector<hsize_t>& dims,
                   const double* data) {
  write_dataset(loc, name, dims, H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, data);
}

void write_floats(hid_t loc, const std::string& name, const std::vector<hsize_t>& dims,
                  const float* data) {
  write_dataset(loc, name, dims, H5T_IEEE_F32LE, H5T_NATIVE_FLOAT, data);
}

void write_int64s(hid_t loc, const std::string& name, const std::vector<hsize_t>& dims,
                  const int64_t* data) {
  write_dataset(loc, name, dims, H5T_STD_I64LE, H5T_NATIVE_INT64, data);
}

void write_strings(hid_t loc, const std::string& name, const std::vector<hsize_t>& dims,
                   const std::vector<std::string>& values) {
  SilenceErrors quiet;
  const std::string where = describe(loc, name);
  ROOTOPT_ASSERT(element_count(dims, where) == values.size(), where, ": ", values.size(),
                 " strings for the extents");
  size_t size = 1;
  for (const std::string& value : values) {
    check_no_nul(value, where);
    size = std::max(size, value.size());
  }
  std::vector<char> buffer(values.size() * size, '\0');
  for (size_t i = 0; i < values.size(); ++i)
    std::memcpy(buffer.data() + i * size, values[i].data(), values[i].size());
  Id type = fixed_string_type(size, where);
  write_dataset(loc, name, dims, type, type, buffer.data());
}

void write_attribute(hid_t obj, const std::string& name, const std::string& value) {
  SilenceErrors quiet;
  // Fixed-length: a variable-length string would live in the global heap, the part of a file
  // HDF5 1.10 reads unsafely when it is damaged. h5py reads it as bytes.
  check_no_nul(value, "attribute " + name);
  Id type = fixed_string_type(value.size(), "attribute " + name);
  Id attribute = create_attribute(obj, name, type);
  std::vector<char> buffer(std::max<size_t>(value.size(), 1), '\0');
  std::memcpy(buffer.data(), value.data(), value.size());
  ROOTOPT_H5_CHECK(H5Awrite(attribute, type, buffer.data()), "writing attribute ", name);
}

void write_attribute(hid_t obj, const std::string& name, int64_t value) {
  SilenceErrors quiet;
  Id attribute = create_attribute(obj, name, H5T_STD_I64LE);
  ROOTOPT_H5_CHECK(H5Awrite(attribute, H5T_NATIVE_INT64, &value), "writing attribute ", name);
}

void write_attribute(hid_t obj, const std::string& name, double value) {
  SilenceErrors quiet;
  Id attribute = create_attribute(obj, name, H5T_IEEE_F64LE);
  ROOTOPT_H5_CHECK(H5Awrite(attribute, H5T_NATIVE_DOUBLE, &value), "writing attribute ", name);
}

bool has_attribute(hid_t obj, const std::string& name) {
  SilenceErrors quiet;
  return ROOTOPT_H5_CHECK(H5Aexists(obj, name.c_str()), describe(obj), ": looking up attribute '",
                          name, "' (", error_stack(), ")") > 0;
}

H5T_class_t attribute_type_class(hid_t obj, const std::string& name, const std::string& file) {
  SilenceErrors quiet;
  Id attribute = open_attribute(obj, name, file);
  return attribute_class(attribute, name, file);
}

std::string read_string_attribute(hid_t obj, const std::string& name, const std::string& file,
                                  StringStorage accepted) {
  SilenceErrors quiet;
  Id attribute = open_attribute(obj, name, file);
  ROOTOPT_CHECK(attribute_class(attribute, name, file) == H5T_STRING, file, ": attribute '", name,
                "' is not a string");
  check_single_value(attribute, name, file);
  Id stored(ROOTOPT_H5_CHECK(H5Aget_type(attribute), file, ": attribute '", name, "'"), H5Tclose);
  const htri_t variable =
      ROOTOPT_H5_CHECK(H5Tis_variable_str(stored), file, ": attribute '", name, "'");
  ROOTOPT_CHECK(variable == 0 || accepted == StringStorage::fixed_or_variable, file,
                ": attribute '", name,
                "' is a variable-length string; this format stores fixed-length strings "
                "(h5py: np.bytes_(text))");
  Id type(ROOTOPT_H5_CHECK(H5Tcopy(H5T_C_S1), file, ": attribute '", name, "'"), H5Tclose);
  // Same character set as stored: HDF5 does not convert between ASCII and UTF-8.
  ROOTOPT_H5_CHECK(H5Tset_cset(type, H5Tget_cset(stored)), file, ": attribute '", name, "'");
  if (variable > 0) {
    ROOTOPT_H5_CHECK(H5Tset_size(type, H5T_VARIABLE), file, ": attribute '", name, "'");
    char* text = nullptr;
    ROOTOPT_H5_CHECK(H5Aread(attribute, type, &text), file, ": reading attribute '", name, "' (",
                     error_stack(), ")");
    std::string value = text != nullptr ? text : "";
    H5free_memory(text);
    return value;
  }
  // Fixed-length: read with one extra byte so the text is always null-terminated.
  const size_t size = H5Tget_size(stored);
  ROOTOPT_CHECK(size > 0 && size < kMaxAttributeStringBytes, file, ": attribute '", name,
                "' has an invalid string size (", size, " bytes)");
  ROOTOPT_H5_CHECK(H5Tset_size(type, size + 1), file, ": attribute '", name, "'");
  std::vector<char> buffer(size + 1, '\0');
  ROOTOPT_H5_CHECK(H5Aread(attribute, type, buffer.data()), file, ": reading attribute '", name,
                   "'");
  return std::string(buffer.data());
}

int64_t read_int_attribute(hid_t obj, const std::string& name, const std::string& file) {
  return read_number_attribute<int64_t>(obj, name, file, H5T_NATIVE_INT64, false);
}

double read_double_attribute(hid_t obj, const std::string& name, const std::string& file) {
  return read_number_attribute<double>(obj, name, file, H5T_NATIVE_DOUBLE, true);
}

std::vector<std::string> list_datasets(hid_t loc) {
  SilenceErrors quiet;
  std::vector<std::string> names;
#if H5_VERSION_GE(1, 12, 0)
  ROOTOPT_H5_CHECK(
      H5Ovisit3(loc, H5_INDEX_NAME, H5_ITER_INC, collect_dataset, &names, H5O_INFO_BASIC),
      "listing datasets of ", describe(loc), " (", error_stack(), ")");
#else
  ROOTOPT_H5_CHECK(
      H5Ovisit2(loc, H5_INDEX_NAME, H5_ITER_INC, collect_dataset, &names, H5O_INFO_BASIC),
      "listing datasets of ", describe(loc), " (", error_stack(), ")");
#endif
  return names;
}

std::string temporary_path(const std::string& path) {
  return path + ".tmp." + std::to_string(static_cast<long long>(::getpid()));
}

void commit_temporary(const std::string& temporary, const std::string& path) {
  // fsync before rename: otherwise a crash right after the rename can leave `path` naming a
  // file whose data never reached the disk.
  const int fd = ::open(temporary.c_str(), O_RDONLY);
  ROOTOPT_CHECK(fd >= 0, "cannot open ", temporary, " to sync it: ", std::strerror(errno));
  const int synced = ::fsync(fd);
  const int sync_errno = errno;
  ::close(fd);
  ROOTOPT_CHECK(synced == 0, "cannot sync ", temporary, ": ", std::strerror(sync_errno));
  ROOTOPT_CHECK(std::rename(temporary.c_str(), path.c_str()) == 0, "cannot rename ", temporary,
                " to ", path, ": ", std::strerror(errno));
}

void remove_temporary(const std::string& temporary) noexcept {
  std::error_code ignored;  // nothing to remove is fine: the failure may precede its creation
  std::filesystem::remove(temporary, ignored);
}

int64_t remove_stale_temporaries(const std::string& path) noexcept {
  int64_t removed = 0;
  try {
    namespace fs = std::filesystem;
    const fs::path target(path);
    const fs::path dir = target.has_parent_path() ? target.parent_path() : fs::path(".");
    const std::string prefix = target.filename().string() + ".tmp.";
    std::error_code ec;
    for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
      const std::string name = it->path().filename().string();
      if (name.size() <= prefix.size() || name.compare(0, prefix.size(), prefix) != 0) continue;
      const std::string digits = name.substr(prefix.size());
      // PIDs are below 2^22 on Linux; anything else is not a temporary rootopt made.
      if (digits.size() > 9 || !std::all_of(digits.begin(), digits.end(), [](char c) {
            return std::isdigit(static_cast<unsigned char>(c)) != 0;
          }))
        continue;
      const long pid = std::stol(digits);
      if (pid <= 0 || pid == static_cast<long>(::getpid()) || process_alive(pid)) continue;
      if (!it->is_regular_file(ec) || locked_by_another(it->path().string())) continue;
      if (fs::remove(it->path(), ec)) ++removed;
    }
  } catch (...) {
    // Best effort: a directory that cannot be listed keeps its litter, the save still succeeded.
  }
  return removed;
}

}  // namespace rootopt::h5
