// Writes the tables the CLI tests inspect into DIR:
//   good.h5        a valid version-2 table (two Frobenius, standard-form recipes)
//   recipes.h5     every recipe field: schatten8, gram form with a restart, a tf32 tail, mixed K
//   warned.h5      the ROOT paper's 2048x2048 triple: loads, with a warning (envelope 3.31)
//   bad_utf8.h5    good.h5 with a provenance value that is not UTF-8 (refused on load)
//   truncated.h5   good.h5 cut to half its bytes
//   not_table.h5   HDF5 but no table attributes;  text.h5: not HDF5
// and, given a version-1 table V1 as second argument, probe.h5: V1 with 16 bytes inverted at
// offset 1500 (the probe that crashed HDF5 1.10 in issue 12).
#include <cstdio>
#include <exception>
#include <filesystem>
#include <fstream>
#include <iterator>

#include "h5.h"
#include "rootopt/coefficient_table.h"

namespace fs = std::filesystem;
namespace h5 = rootopt::h5;

int main(int argc, char** argv) {
  if (argc != 2 && argc != 3) {
    std::fprintf(stderr, "usage: %s DIR [V1_TABLE]\n", argv[0]);
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

    rootopt::CoefficientTable recipes;
    rootopt::Recipe gram(rootopt::builtin_schedule("polar-express", {256, 1024}, 3));
    gram.normalization = rootopt::Normalization::schatten8;
    gram.form = rootopt::IterationForm::gram;
    gram.restarts = {1};
    gram.tail_steps = 1;
    gram.tail_precision = rootopt::Precision::tf32;
    recipes.set({256, 1024}, gram, {{"fit_rms", 0.004}});
    recipes.set({512, 512}, rootopt::builtin_schedule("polar-express", {512, 512}, 6));
    recipes.save((dir / "recipes.h5").string());

    rootopt::CoefficientTable warned;
    warned.set({2048, 2048}, rootopt::builtin_schedule("root-paper", {2048, 2048}, 5));
    warned.save((dir / "warned.h5").string());

    fs::copy_file(dir / "good.h5", dir / "bad_utf8.h5", fs::copy_options::overwrite_existing);
    {
      h5::Id file(H5Fopen((dir / "bad_utf8.h5").c_str(), H5F_ACC_RDWR, H5P_DEFAULT), H5Fclose);
      if (file.get() < 0 || H5Ldelete(file, "provenance", H5P_DEFAULT) < 0) return 1;
      h5::write_strings(file, "provenance", {1, 2}, {"seed", "7\xff"});
    }

    fs::copy_file(dir / "good.h5", dir / "truncated.h5", fs::copy_options::overwrite_existing);
    fs::resize_file(dir / "truncated.h5", fs::file_size(dir / "good.h5") / 2);

    const double x = 1.0;
    h5::write_atomically((dir / "not_table.h5").string(),
                         [&](hid_t file) { h5::write_doubles(file, "x", {1}, &x); });
    std::ofstream(dir / "text.h5") << "not an HDF5 file\n";

    if (argc == 3) {
      std::ifstream in(argv[2], std::ios::binary);
      std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
      if (bytes.size() < 1516) return 1;
      for (size_t i = 1500; i < 1516; ++i) bytes[i] = char(~bytes[i]);
      std::ofstream(dir / "probe.h5", std::ios::binary) << bytes;
    }
  } catch (const std::exception& e) {
    std::fprintf(stderr, "table_fixture: %s\n", e.what());
    return 1;
  }
  return 0;
}
