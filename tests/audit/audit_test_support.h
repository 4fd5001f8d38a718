// Shared pieces of the audit tests: fixture paths, small fast options, scratch directories and
// HDF5 files written by the tests themselves.
#pragma once

#include <Eigen/Core>
#include <filesystem>
#include <string>
#include <vector>

#include "rootopt/audit.h"

namespace rootopt::test {

std::string fixture(const std::string& name);  // tests/audit/fixtures/<name>

// Small and fast: few spectra, proxy rank 32, two threads.
AuditOptions small_options(const std::string& model_fixture);

// A fresh empty directory under the system temp dir, removed on destruction.
class ScratchDir {
 public:
  ScratchDir();
  ~ScratchDir();
  ScratchDir(const ScratchDir&) = delete;
  ScratchDir& operator=(const ScratchDir&) = delete;
  std::filesystem::path operator/(const std::string& name) const { return path_ / name; }
  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
};

struct Dataset {
  std::string name;
  std::vector<unsigned long long> dims;
  std::vector<double> values;  // row-major, product of dims
  bool integer = false;        // store as int64 instead of float64
};
void write_datasets(const std::string& path, const std::vector<Dataset>& datasets);
// A row-major m x n dataset of a Gaussian matrix (reproducible from `seed`).
Dataset gaussian_dataset(const std::string& name, int64_t rows, int64_t cols, uint64_t seed);

// The dataset's values as a matrix (row-major storage).
Eigen::MatrixXd dataset_matrix(const Dataset& d);

// Files and directories directly inside `dir` (names only, sorted).
std::vector<std::string> entries(const std::filesystem::path& dir);

}  // namespace rootopt::test
