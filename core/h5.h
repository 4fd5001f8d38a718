// Internal RAII for HDF5 C API ids, plus the few read/write helpers every rootopt HDF5 file
// (coefficient tables, captured spectra, user matrices, optimizer state) needs.
// Every call is checked; failures throw rootopt::Error naming the file and object.
#pragma once

#include <hdf5.h>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "check.h"

namespace rootopt::h5 {

// Owns one HDF5 id and closes it with the matching H5?close on destruction.
class Id {
 public:
  using Closer = herr_t (*)(hid_t);
  Id() = default;
  Id(hid_t id, Closer closer) : id_(id), closer_(closer) {}
  Id(Id&& o) noexcept : id_(o.id_), closer_(o.closer_) { o.id_ = H5I_INVALID_HID; }
  Id& operator=(Id&& o) noexcept;
  Id(const Id&) = delete;
  Id& operator=(const Id&) = delete;
  ~Id() { reset(); }
  hid_t get() const { return id_; }
  operator hid_t() const { return id_; }
  void reset();
  // Closes now and returns the closer's status, so a caller can check it (a file's close is
  // where HDF5 writes its metadata).
  herr_t close();

 private:
  hid_t id_ = H5I_INVALID_HID;
  Closer closer_ = nullptr;
};

// Turns off HDF5's automatic error-stack printing for this thread's calls while alive: rootopt
// reports errors itself, with the file name.
class SilenceErrors {
 public:
  SilenceErrors();
  ~SilenceErrors();
  SilenceErrors(const SilenceErrors&) = delete;
  SilenceErrors& operator=(const SilenceErrors&) = delete;

 private:
  H5E_auto2_t func_ = nullptr;
  void* data_ = nullptr;
};

// The messages on HDF5's error stack for this thread, innermost last ("" when empty); failure
// messages append it so a user sees HDF5's reason (e.g. "truncated file: eof = ...").
std::string error_stack();

Id open_file(const std::string& path);  // read-only; throws naming the path
// The offset of the HDF5 signature in `bytes` (0, 512, 1024, ...: a user block may precede the
// superblock, as H5Fis_hdf5 searches), or nullopt when there is none.
std::optional<uint64_t> signature_offset(std::string_view bytes);
// The bytes of the regular file `path`, for open_image; refuses files above `max_bytes` before
// reading (a table is kilobytes: a huge "table" is a mistake, not something to load).
std::string read_image(const std::string& path, uint64_t max_bytes);
// Opens an HDF5 file held in memory (read-only; HDF5 keeps its own copy). `name` is the file
// name for messages. The same checks as open_file: not HDF5, truncated, damaged.
Id open_image(const std::string& image, const std::string& name);
// Creates (truncating) a file with the hardened settings every rootopt writer uses: the newest
// on-disk format HDF5 1.10 reads (libver bounds V110), whose metadata (superblock, object
// headers, chunk indexes) carries checksums that HDF5 verifies on every read.
Id create_file(const std::string& path);
Id open_dataset(hid_t loc, const std::string& name, const std::string& file);
Id open_group(hid_t loc, const std::string& name, const std::string& file);
bool exists(hid_t loc, const std::string& name);
// Creates group `name` (and any missing parents) below `loc`.
void create_group(hid_t loc, const std::string& name);

// Dataset extents (rank = dims.size()).
std::vector<hsize_t> dims(hid_t dataset);
// Product of `extents`; throws naming `what` when it overflows 64 bits (a damaged dataspace).
hsize_t element_count(const std::vector<hsize_t>& extents, const std::string& what);
// Class of the stored element type (H5T_INTEGER, H5T_FLOAT, ...).
H5T_class_t type_class(hid_t dataset);
// Size in bytes of the stored element type (8 for float64 and int64).
size_t type_size(hid_t dataset);

// Whole-dataset reads with conversion to the requested memory type. Callers check extents
// against their own limits first; a read that still cannot be allocated throws naming `what`.
std::vector<double> read_doubles(hid_t dataset, const std::string& what);
std::vector<float> read_floats(hid_t dataset, const std::string& what);
std::vector<int64_t> read_int64s(hid_t dataset, const std::string& what);
std::vector<uint64_t> read_uint64s(hid_t dataset, const std::string& what);
// A dataset of fixed-length strings (any rank), each up to its first NUL (or, space-padded, its
// last non-space). Variable-length strings are refused: they live in HDF5's global heap, which
// HDF5 1.10 cannot read safely from a damaged file. Throws when the stored string size exceeds
// `max_string_bytes`.
std::vector<std::string> read_strings(hid_t dataset, const std::string& what,
                                      size_t max_string_bytes);

// Datasets are written chunked with the Fletcher32 checksum filter, so a flipped bit in the data
// is a read error ("data error detected by Fletcher32 checksum"), not a silently wrong number.
// An empty dataset has no data to protect and is written contiguous.
void write_doubles(hid_t loc, const std::string& name, const std::vector<hsize_t>& dims,
                   const double* data);
void write_floats(hid_t loc, const std::string& name, const std::vector<hsize_t>& dims,
                  const float* data);
void write_int64s(hid_t loc, const std::string& name, const std::vector<hsize_t>& dims,
                  const int64_t* data);
// Fixed-length UTF-8 strings, NUL-padded to the longest value; values must not contain NUL.
void write_strings(hid_t loc, const std::string& name, const std::vector<hsize_t>& dims,
                   const std::vector<std::string>& values);

// Scalar attributes on an object (file root, group or dataset). Strings are written
// fixed-length UTF-8 (no global heap).
void write_attribute(hid_t obj, const std::string& name, const std::string& value);
void write_attribute(hid_t obj, const std::string& name, int64_t value);
void write_attribute(hid_t obj, const std::string& name, double value);
bool has_attribute(hid_t obj, const std::string& name);
// Class of a stored attribute's type (H5T_STRING, H5T_INTEGER, H5T_FLOAT, ...).
H5T_class_t attribute_type_class(hid_t obj, const std::string& name, const std::string& file);
enum class StringStorage { fixed_only, fixed_or_variable };
std::string read_string_attribute(hid_t obj, const std::string& name, const std::string& file,
                                  StringStorage accepted = StringStorage::fixed_only);
int64_t read_int_attribute(hid_t obj, const std::string& name, const std::string& file);
double read_double_attribute(hid_t obj, const std::string& name, const std::string& file);

// Paths of every dataset below `loc` (recursive, "/"-joined, leading "/"). For files whose
// dataset names are the user's (matrices, captured spectra); rootopt's own formats read every
// object by its known name instead.
std::vector<std::string> list_datasets(hid_t loc);

// Atomic write: writes through `write(file_id)` into "<path>.tmp.<pid>", flushes, closes, then
// renames over `path`. On any exception the temporary is removed and `path` is untouched. After
// a successful commit, temporaries of `path` left by dead processes are removed
// (remove_stale_temporaries).
template <typename Writer>
void write_atomically(const std::string& path, Writer&& write);
std::string temporary_path(const std::string& path);
void commit_temporary(const std::string& temporary, const std::string& path);
void remove_temporary(const std::string& temporary) noexcept;
// Removes "<path>.tmp.<pid>" files whose process is gone: <pid> is not a running process on
// this machine and no one holds a lock on the file (HDF5 locks a file it writes). A live
// writer's temporary is never touched. Best effort: returns the number removed, never throws.
int64_t remove_stale_temporaries(const std::string& path) noexcept;

template <typename Writer>
void write_atomically(const std::string& path, Writer&& write) {
  const std::string tmp = temporary_path(path);
  try {
    {
      Id file = create_file(tmp);
      write(file.get());
      ROOTOPT_H5_CHECK(H5Fflush(file.get(), H5F_SCOPE_GLOBAL), "flushing ", tmp);
      ROOTOPT_H5_CHECK(file.close(), "closing ", tmp);
    }
    commit_temporary(tmp, path);
  } catch (...) {
    remove_temporary(tmp);
    throw;
  }
  remove_stale_temporaries(path);
}

}  // namespace rootopt::h5
