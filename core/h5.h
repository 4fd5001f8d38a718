// Internal RAII for HDF5 C API ids, plus the few read/write helpers every rootopt HDF5 file
// (coefficient tables, captured spectra, user matrices, optimizer state) needs.
// Every call is checked; failures throw rootopt::Error naming the file and object.
#pragma once

#include <hdf5.h>

#include <cstdint>
#include <string>
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

Id open_file(const std::string& path);    // read-only; throws naming the path
Id create_file(const std::string& path);  // truncates
Id open_dataset(hid_t loc, const std::string& name, const std::string& file);
Id open_group(hid_t loc, const std::string& name, const std::string& file);
bool exists(hid_t loc, const std::string& name);
// Creates group `name` (and any missing parents) below `loc`.
void create_group(hid_t loc, const std::string& name);

// Dataset extents (rank = dims.size()).
std::vector<hsize_t> dims(hid_t dataset);
// Class of the stored element type (H5T_INTEGER, H5T_FLOAT, ...).
H5T_class_t type_class(hid_t dataset);
// Size in bytes of the stored element type (8 for float64 and int64).
size_t type_size(hid_t dataset);

// Whole-dataset reads with conversion to the requested memory type.
std::vector<double> read_doubles(hid_t dataset, const std::string& what);
std::vector<float> read_floats(hid_t dataset, const std::string& what);
std::vector<int64_t> read_int64s(hid_t dataset, const std::string& what);

void write_doubles(hid_t loc, const std::string& name, const std::vector<hsize_t>& dims,
                   const double* data);
void write_floats(hid_t loc, const std::string& name, const std::vector<hsize_t>& dims,
                  const float* data);
void write_int64s(hid_t loc, const std::string& name, const std::vector<hsize_t>& dims,
                  const int64_t* data);

// Scalar attributes on an object (file root, group or dataset).
void write_attribute(hid_t obj, const std::string& name, const std::string& value);
void write_attribute(hid_t obj, const std::string& name, int64_t value);
void write_attribute(hid_t obj, const std::string& name, double value);
bool has_attribute(hid_t obj, const std::string& name);
// Class of a stored attribute's type (H5T_STRING, H5T_INTEGER, H5T_FLOAT, ...).
H5T_class_t attribute_type_class(hid_t obj, const std::string& name, const std::string& file);
std::string read_string_attribute(hid_t obj, const std::string& name, const std::string& file);
int64_t read_int_attribute(hid_t obj, const std::string& name, const std::string& file);
double read_double_attribute(hid_t obj, const std::string& name, const std::string& file);
std::vector<std::string> attribute_names(hid_t obj);

// The root attributes `format` (string) and `format_version` (integer) every rootopt file
// carries. check_format throws, naming `path`, when either is missing or differs.
struct FileFormat {
  std::string format;       // e.g. "rootopt.coefficients"
  int64_t version = 1;      // the one version this build reads
  std::string description;  // e.g. "rootopt coefficient table", for messages
};
void check_format(hid_t file, const std::string& path, const FileFormat& expected);

// Paths of every dataset below `loc` (recursive, "/"-joined, leading "/").
std::vector<std::string> list_datasets(hid_t loc);

// Atomic write: writes through `write(file_id)` into "<path>.tmp.<pid>", flushes, closes, then
// renames over `path`. On any exception the temporary is removed and `path` is untouched.
template <typename Writer>
void write_atomically(const std::string& path, Writer&& write);
std::string temporary_path(const std::string& path);
void commit_temporary(const std::string& temporary, const std::string& path);
void remove_temporary(const std::string& temporary) noexcept;

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
}

}  // namespace rootopt::h5
