// Replays fuzz inputs through the table fuzz target without libFuzzer (any compiler), as a
// normal test: every file given, and every file in every directory given. Prints how many
// loaded and how many were refused; a crash or an exception other than rootopt::Error fails it.
//
//   table_fuzz_replay PATH...
#include <cstdio>
#include <exception>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "table_fuzz_target.h"

namespace fs = std::filesystem;

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: %s FILE_OR_DIRECTORY...\n", argv[0]);
    return 2;
  }
  std::vector<fs::path> files;
  for (int i = 1; i < argc; ++i) {
    if (fs::is_directory(argv[i])) {
      for (const auto& entry : fs::directory_iterator(argv[i]))
        if (entry.is_regular_file()) files.push_back(entry.path());
    } else {
      files.emplace_back(argv[i]);
    }
  }
  int64_t loaded = 0;
  for (const fs::path& file : files) {
    std::ifstream in(file, std::ios::binary);
    const std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    if (!in.good() && !in.eof()) {
      std::fprintf(stderr, "cannot read %s\n", file.c_str());
      return 1;
    }
    try {
      loaded += rootopt::fuzz::load_table_bytes(reinterpret_cast<const uint8_t*>(bytes.data()),
                                                bytes.size());
    } catch (const std::exception& e) {
      std::fprintf(stderr, "%s: unexpected exception: %s\n", file.c_str(), e.what());
      return 1;
    }
  }
  std::printf("%zu inputs: %lld loaded, %lld refused cleanly\n", files.size(),
              static_cast<long long>(loaded),
              static_cast<long long>(int64_t(files.size()) - loaded));
  return files.empty() ? 1 : 0;
}
