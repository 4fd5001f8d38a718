// Shared by the fuzz targets. rootopt::Error is how rootopt rejects bad input, so a target
// catches it and nothing else: any other exception (std::bad_alloc, a library's own exception),
// a crash, a hang, a sanitizer report, or an "internal error" (a ROOTOPT_ASSERT that user input
// reached) is a finding.
#pragma once

#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>

#include "rootopt/error.h"

namespace rootopt::fuzz {

template <typename Body>
void expect_clean(Body&& body) {
  try {
    body();
  } catch (const InternalError& e) {
    // By type: a rejection's message may itself start with "internal error" (a file of that
    // name; corpus/families/internal_error_in_a_file_name).
    std::fprintf(stderr, "fuzz: user input reached an internal check: %s\n", e.what());
    std::abort();
  } catch (const Error&) {
  }
}

// A file holding the input, for readers that take a path; private to this process, removed on
// destruction.
class TempFile {
 public:
  TempFile(const uint8_t* data, size_t size, const std::string& suffix)
      : path_(std::filesystem::temp_directory_path() /
              ("rootopt_fuzz_" + std::to_string(::getpid()) + suffix)) {
    std::ofstream(path_, std::ios::binary)
        .write(reinterpret_cast<const char*>(data), std::streamsize(size));
  }
  ~TempFile() {
    std::error_code ec;
    std::filesystem::remove(path_, ec);
  }
  TempFile(const TempFile&) = delete;
  TempFile& operator=(const TempFile&) = delete;
  std::string path() const { return path_.string(); }

 private:
  std::filesystem::path path_;
};

}  // namespace rootopt::fuzz
