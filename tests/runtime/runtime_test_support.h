// Shared pieces of the runtime tests: a scratch directory, a small coefficient table written with
// CoefficientTable::save, random gradients with outliers, and host buffers for one parameter.
#pragma once

#include <gtest/gtest.h>

#include <Eigen/Core>
#include <cstdint>
#include <filesystem>
#include <random>
#include <string>
#include <vector>

#include "rootopt/optimizer.h"

namespace rootopt::testing {

// A fresh directory per test, removed afterwards.
class RuntimeTest : public ::testing::Test {
 protected:
  void SetUp() override;
  void TearDown() override;
  std::string path(const std::string& name) const { return (dir_ / name).string(); }
  // A 5-step table: You's schedule for 64x64, Muon's triple for 7x300 and 1x1, Polar Express
  // for 100x257 (so the tested shapes use different schedules). Returns its path.
  std::string write_table() const;
  // Config for that table on the CPU; warnings are collected in `warnings`.
  OptimizerConfig config(const std::string& table_path);
  std::vector<std::string> warnings;

 private:
  std::filesystem::path dir_;
};

// Gaussian matrix, with ~2% of the entries multiplied by 30 (outliers for the soft threshold).
Eigen::MatrixXd random_gradient(int64_t rows, int64_t cols, std::mt19937_64& rng);
Eigen::MatrixXd random_matrix(int64_t rows, int64_t cols, std::mt19937_64& rng, double scale);

// Host storage of one parameter (its `batch` matrices), in fp32 or bf16.
class HostParam {
 public:
  HostParam(std::string name, int64_t batch, int64_t rows, int64_t cols, DType dtype);
  ParamSpec spec();
  int64_t batch() const { return batch_; }
  // Matrix b of the weights / gradient, as doubles (exactly the stored values).
  Eigen::MatrixXd theta(int64_t b) const;
  void set_theta(int64_t b, const Eigen::MatrixXd& values);  // rounded to the dtype
  void set_grad(int64_t b, const Eigen::MatrixXd& values);   // rounded to the dtype
  Eigen::MatrixXd grad(int64_t b) const;
  void set_grad_element(int64_t index, float value);
  // Raw bytes, for bit-exact comparisons.
  const std::vector<uint8_t>& theta_bytes() const { return theta_; }

 private:
  double get(const std::vector<uint8_t>& data, int64_t index) const;
  void put(std::vector<uint8_t>& data, int64_t index, double value);
  std::string name_;
  int64_t batch_, rows_, cols_;
  DType dtype_;
  std::vector<uint8_t> theta_, grad_;
};

// ||a - b||_F / ||b||_F.
double relative_error(const Eigen::MatrixXd& a, const Eigen::MatrixXd& b);

}  // namespace rootopt::testing
