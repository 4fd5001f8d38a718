// Internal to the h5::Reader implementations (h5_reader.h): the bytes a reader works on, and the
// two backends' constructors.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "h5_reader.h"

namespace rootopt::h5 {

// The whole content of a file: an image in memory, or a read-only mapping of the file.
class FileBytes {
 public:
  virtual ~FileBytes() = default;
  virtual std::string_view view() const = 0;
};

// The legacy reader over `bytes` (superblock version 0 or 1 at `signature`).
std::unique_ptr<Reader> make_legacy_reader(std::shared_ptr<const FileBytes> bytes,
                                           const std::string& name, uint64_t signature);
// libhdf5 over an open file.
std::unique_ptr<Reader> make_library_reader(Id file, const std::string& name);

}  // namespace rootopt::h5
