#include "audit_test_support.h"

#include <unistd.h>

#include <algorithm>
#include <random>

#include "h5.h"

namespace rootopt::test {
namespace fs = std::filesystem;

std::string fixture(const std::string& name) {
  return std::string(ROOTOPT_AUDIT_FIXTURES) + "/" + name;
}

AuditOptions small_options(const std::string& model_fixture) {
  AuditOptions o;
  o.model_path = fixture(model_fixture);
  o.samples = 12;
  o.matrix_samples = 2;
  o.proxy_rank = 32;
  o.seed = 11;
  o.threads = 2;
  return o;
}

ScratchDir::ScratchDir() {
  static int counter = 0;
  path_ = fs::temp_directory_path() /
          ("rootopt-audit-test-" + std::to_string(getpid()) + "-" + std::to_string(counter++));
  fs::remove_all(path_);
  fs::create_directories(path_);
}

ScratchDir::~ScratchDir() {
  std::error_code ec;
  fs::remove_all(path_, ec);
}

void write_datasets(const std::string& path, const std::vector<Dataset>& datasets) {
  h5::write_atomically(path, [&](hid_t file) {
    for (const Dataset& d : datasets) {
      const std::vector<hsize_t> dims(d.dims.begin(), d.dims.end());
      if (d.integer) {
        const std::vector<int64_t> ints(d.values.begin(), d.values.end());
        h5::write_int64s(file, d.name, dims, ints.data());
      } else {
        h5::write_doubles(file, d.name, dims, d.values.data());
      }
    }
  });
}

Dataset gaussian_dataset(const std::string& name, int64_t rows, int64_t cols, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<double> normal;
  Dataset d{
      name, {static_cast<unsigned long long>(rows), static_cast<unsigned long long>(cols)}, {}};
  for (int64_t i = 0; i < rows * cols; ++i) d.values.push_back(normal(rng));
  return d;
}

Eigen::MatrixXd dataset_matrix(const Dataset& d) {
  return Eigen::Map<const Eigen::Matrix<double, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>>(
      d.values.data(), Eigen::Index(d.dims.at(0)), Eigen::Index(d.dims.at(1)));
}

std::vector<std::string> entries(const fs::path& dir) {
  std::vector<std::string> names;
  for (const fs::directory_entry& e : fs::directory_iterator(dir))
    names.push_back(e.path().filename().string());
  std::sort(names.begin(), names.end());
  return names;
}

}  // namespace rootopt::test
