// Writes the tables the CLI tests inspect into DIR: good.h5 (a valid table), truncated.h5 (good.h5
// cut to half its bytes), not_table.h5 (HDF5 but no table attributes) and text.h5 (not HDF5).
#include <cstdio>
#include <exception>
#include <filesystem>
#include <fstream>

#include "h5.h"
#include "rootopt/coefficient_table.h"

namespace fs = std::filesystem;

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: %s DIR\n", argv[0]);
    return 2;
  }
  try {
    const fs::path dir = argv[1];
    fs::create_directories(dir);
    rootopt::CoefficientTable table;
    table.set({1024, 4096}, rootopt::builtin_schedule("polar-express", {1024, 4096}, 5),
              {{"fit_rms", 0.0125}, {"envelope", 1.0312}});
    table.set({768, 768}, rootopt::builtin_schedule("you", {768, 768}, 5), {{"fit_rms", 0.02}});
    table.attributes()["seed"] = "7";
    table.attributes()["objective"] = "cli test fixture";
    table.save((dir / "good.h5").string());

    fs::copy_file(dir / "good.h5", dir / "truncated.h5", fs::copy_options::overwrite_existing);
    fs::resize_file(dir / "truncated.h5", fs::file_size(dir / "good.h5") / 2);

    const double x = 1.0;
    rootopt::h5::write_atomically((dir / "not_table.h5").string(), [&](hid_t file) {
      rootopt::h5::write_doubles(file, "x", {1}, &x);
    });
    std::ofstream(dir / "text.h5") << "not an HDF5 file\n";
  } catch (const std::exception& e) {
    std::fprintf(stderr, "table_fixture: %s\n", e.what());
    return 1;
  }
  return 0;
}
