// h5::Reader: choosing the backend by superblock version, the bytes it reads, and the format
// check every rootopt file passes.
#include "h5_reader.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>

#include "check.h"
#include "h5_reader_backends.h"

namespace rootopt::h5 {
namespace {

class ImageBytes final : public FileBytes {
 public:
  explicit ImageBytes(std::string image) : image_(std::move(image)) {}
  std::string_view view() const override { return image_; }
  const std::string& image() const { return image_; }

 private:
  std::string image_;
};

// A read-only private mapping of a whole file, so a large file (optimizer state) is not copied.
class MappedBytes final : public FileBytes {
 public:
  explicit MappedBytes(const std::string& path) {
    const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    ROOTOPT_CHECK(fd >= 0, path, ": cannot open: ", std::strerror(errno));
    struct stat info {};
    const bool stated = ::fstat(fd, &info) == 0;
    const int stat_errno = errno;
    if (stated && info.st_size > 0) {
      size_ = size_t(info.st_size);
      void* mapped = ::mmap(nullptr, size_, PROT_READ, MAP_PRIVATE, fd, 0);
      data_ = mapped == MAP_FAILED ? nullptr : static_cast<const char*>(mapped);
    }
    const int map_errno = errno;
    ::close(fd);
    ROOTOPT_CHECK(stated, path, ": cannot read the file size: ", std::strerror(stat_errno));
    ROOTOPT_CHECK(size_ == 0 || data_ != nullptr, path,
                  ": cannot map the file: ", std::strerror(map_errno));
  }
  ~MappedBytes() override {
    if (data_ != nullptr) ::munmap(const_cast<char*>(data_), size_);
  }
  MappedBytes(const MappedBytes&) = delete;
  MappedBytes& operator=(const MappedBytes&) = delete;
  std::string_view view() const override { return {data_, size_}; }

 private:
  const char* data_ = nullptr;
  size_t size_ = 0;
};

// Superblock version at `signature` (the byte after the signature).
int superblock_version(std::string_view bytes, uint64_t signature) {
  return signature + 8 < bytes.size() ? static_cast<unsigned char>(bytes[signature + 8]) : -1;
}

}  // namespace

std::unique_ptr<Reader> open_image_reader(std::string image, const std::string& name) {
  auto bytes = std::make_shared<ImageBytes>(std::move(image));
  const auto signature = signature_offset(bytes->view());
  ROOTOPT_CHECK(signature.has_value(), name, ": not an HDF5 file");
  if (superblock_version(bytes->view(), *signature) <= 1)
    return make_legacy_reader(std::move(bytes), name, *signature);
  return make_library_reader(open_image(bytes->image(), name), name);
}

std::unique_ptr<Reader> open_file_reader(const std::string& path) {
  std::error_code ec;
  ROOTOPT_CHECK(std::filesystem::is_regular_file(path, ec), path,
                ": no such file (or not a regular file)");
  auto bytes = std::make_shared<MappedBytes>(path);
  const auto signature = signature_offset(bytes->view());
  ROOTOPT_CHECK(signature.has_value(), path, ": not an HDF5 file");
  if (superblock_version(bytes->view(), *signature) <= 1)
    return make_legacy_reader(std::move(bytes), path, *signature);
  bytes.reset();
  return make_library_reader(open_file(path), path);
}

int64_t check_format(const Reader& file, const FileFormat& expected) {
  const auto format = file.attribute("", "format");
  ROOTOPT_CHECK(format.has_value(), file.name(), ": not a ", expected.description,
                " (no root attribute 'format')");
  ROOTOPT_CHECK(format->cls == ValueClass::string, file.name(),
                ": attribute 'format' is not a string (not a ", expected.description, ")");
  const auto check_name = [&](const std::string& text) {
    ROOTOPT_CHECK(text == expected.format, file.name(), ": format is '", text, "', expected '",
                  expected.format, "' (not a ", expected.description, ")");
  };
  if (!format->variable_length)
    check_name(file.read_string_attribute("", "format", StringStorage::fixed_only));
  const int64_t version = file.read_int_attribute("", "format_version");
  ROOTOPT_CHECK(version >= expected.oldest_version && version <= expected.newest_version,
                file.name(), ": unknown format_version ", version, " (this rootopt reads ",
                expected.oldest_version == expected.newest_version
                    ? "version " + std::to_string(expected.newest_version)
                    : "versions " + std::to_string(expected.oldest_version) + " to " +
                          std::to_string(expected.newest_version),
                ")");
  if (format->variable_length) {
    ROOTOPT_CHECK(version < expected.fixed_strings_since, file.name(),
                  ": attribute 'format' is a variable-length string; version ", version,
                  " files store it fixed-length (h5py: np.bytes_(text))");
    // Through libhdf5 the text cannot be read safely (h5_library_reader.cpp): the layout checks
    // that follow identify the file instead.
    if (file.reads_variable_length())
      check_name(file.read_string_attribute("", "format", StringStorage::fixed_or_variable));
  }
  return version;
}

}  // namespace rootopt::h5
