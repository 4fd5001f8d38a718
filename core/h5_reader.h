// Internal: read-only access to a file of one of rootopt's own formats (coefficient tables,
// optimizer state) by object name. Two implementations behind one interface, chosen by the
// file's superblock version:
//   - 2 or 3 (what rootopt writes, H5F_LIBVER_V110): libhdf5, which verifies the checksum of
//     every piece of metadata before it uses it;
//   - 0 or 1 (no metadata checksums: version-1 tables, version-1 state files, files h5py writes
//     with its default settings): rootopt's own bounds-checked reader of the small HDF5 subset
//     such files use (h5_legacy_reader.cpp), because HDF5 1.10 decodes damaged unchecksummed
//     metadata out of bounds (H5Aexists, H5Aiterate2 and H5HG_read all crash on bit-flipped
//     tables; the table fuzzer finds such a file within a minute).
// Nothing here iterates attributes. Listing a group's links exists only for the one format
// field whose names are the user's (version-1 table metrics).
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "h5.h"

namespace rootopt::h5 {

enum class ValueClass { integer, floating, string, other };

// The stored type and extents of a dataset or attribute.
struct ValueInfo {
  ValueClass cls = ValueClass::other;
  size_t size = 0;               // bytes per element (a fixed-length string's length)
  bool variable_length = false;  // a variable-length string (size is then meaningless)
  std::vector<hsize_t> extents;  // empty for a scalar
  bool is_signed = true;         // integers
};

class Reader {
 public:
  virtual ~Reader() = default;
  Reader(const Reader&) = delete;
  Reader& operator=(const Reader&) = delete;
  // The file's name, as every message names it.
  const std::string& name() const { return name_; }
  // Whether variable-length strings can be read. Only the legacy reader can: it checks the
  // global heap object against the attribute that points to it. libhdf5 copies whatever size the
  // (never checksummed) global heap states, so through it they are refused.
  virtual bool reads_variable_length() const = 0;

  // Whether `path` ("shapes", "metrics/fit_rms") names an object.
  virtual bool exists(const std::string& path) const = 0;
  // Type and extents of dataset `path`; throws naming the file when it is missing or not a
  // dataset.
  virtual ValueInfo dataset(const std::string& path) const = 0;
  // Whether `path` names a group (false when it is missing or another object).
  virtual bool is_group(const std::string& path) const = 0;
  // Names of the links in group `path`, sorted; throws when it is missing or not a group.
  virtual std::vector<std::string> group_members(const std::string& path) const = 0;
  // Whole-dataset reads, converted: any integer to int64 (out of range: an error), float32 or
  // float64 to double or float. Callers check the extents against their limits first.
  virtual std::vector<int64_t> read_ints(const std::string& path) const = 0;
  virtual std::vector<double> read_doubles(const std::string& path) const = 0;
  virtual std::vector<float> read_floats(const std::string& path) const = 0;
  // Fixed-length strings (h5::read_strings); variable-length ones are refused.
  virtual std::vector<std::string> read_strings(const std::string& path,
                                                size_t max_string_bytes) const = 0;

  // Attribute `name` of the object at `object` ("" is the root group); nullopt when absent.
  virtual std::optional<ValueInfo> attribute(const std::string& object,
                                             const std::string& name) const = 0;
  // Single-value attributes; each throws naming the file when missing or of another class. A
  // variable-length string needs `accepted` = fixed_or_variable and reads_variable_length().
  virtual int64_t read_int_attribute(const std::string& object, const std::string& name) const = 0;
  virtual double read_double_attribute(const std::string& object,
                                       const std::string& name) const = 0;
  virtual std::string read_string_attribute(const std::string& object, const std::string& name,
                                            StringStorage accepted) const = 0;

 protected:
  explicit Reader(std::string name) : name_(std::move(name)) {}

 private:
  std::string name_;
};

// A reader over the bytes of a whole file (kept by the reader); `name` names it in messages.
std::unique_ptr<Reader> open_image_reader(std::string image, const std::string& name);
// A reader over the file at `path` (any size: the legacy reader maps it into memory, libhdf5
// reads it). Throws naming `path` when it is missing, not a regular file or not HDF5.
std::unique_ptr<Reader> open_file_reader(const std::string& path);

// The root attributes `format` (string) and `format_version` (integer) every rootopt file
// carries, each read by its name. Throws, naming the file, when either is missing or not one of
// the versions this build reads, and returns the version.
struct FileFormat {
  std::string format;          // e.g. "rootopt.coefficients"
  std::string description;     // e.g. "rootopt coefficient table", for messages
  int64_t oldest_version = 1;  // the versions this build reads
  int64_t newest_version = 1;
  // Versions before this one stored `format` as a variable-length string; from this one on it
  // must be fixed-length (a variable-length string is then refused unread).
  int64_t fixed_strings_since = 1;
};
int64_t check_format(const Reader& file, const FileFormat& expected);

}  // namespace rootopt::h5
