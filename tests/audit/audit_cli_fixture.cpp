// Writes the files the `rootopt audit` CLI tests use into DIR: matrices for tiny-llama.json
// (good.h5, and one bad input per file: cube.h5, unknown.h5, nan.h5), a coefficient table
// (table.h5, tuned only for 64x64, envelope_bound 1.25) and a truncated copy of it.
#include <cmath>
#include <cstdio>
#include <exception>
#include <filesystem>

#include "audit_test_support.h"
#include "rootopt/coefficient_table.h"

namespace fs = std::filesystem;
using rootopt::test::Dataset;
using rootopt::test::gaussian_dataset;
using rootopt::test::write_datasets;

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: %s DIR\n", argv[0]);
    return 2;
  }
  try {
    const fs::path dir = argv[1];
    fs::create_directories(dir);
    const auto at = [&dir](const char* name) { return (dir / name).string(); };
    write_datasets(at("good.h5"),
                   {gaussian_dataset("/step_5/model.layers.0.mlp.down_proj", 64, 128, 1),
                    gaussian_dataset("/step_5/model.layers.1.mlp.down_proj", 64, 128, 2)});
    write_datasets(at("cube.h5"), {gaussian_dataset("/ok", 64, 64, 3),
                                   Dataset{"/cube", {2, 3, 4}, std::vector<double>(24, 1.0)}});
    write_datasets(at("unknown.h5"), {gaussian_dataset("/model.layers.0.mlp.foo", 7, 9, 4)});
    Dataset nan = gaussian_dataset("/layers.0.self_attn.q_proj", 64, 64, 5);
    nan.values[5] = std::nan("");
    write_datasets(at("nan.h5"), {nan});

    rootopt::CoefficientTable table;
    table.set({64, 64}, rootopt::builtin_schedule("polar-express", {64, 64}, 5));
    table.attributes()["envelope_bound"] = "1.25";
    table.save(at("table.h5"));
    fs::copy_file(at("table.h5"), at("truncated.h5"), fs::copy_options::overwrite_existing);
    fs::resize_file(at("truncated.h5"), fs::file_size(at("table.h5")) / 2);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "audit_cli_fixture: %s\n", e.what());
    return 1;
  }
  return 0;
}
