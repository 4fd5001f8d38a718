#include "runtime_test_support.h"

#include <unistd.h>

#include <cstring>

#include "rootopt/bf16.h"
#include "rootopt/coefficient_table.h"
#include "rootopt/schedule.h"

namespace rootopt::testing {

void RuntimeTest::SetUp() {
  const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
  std::string name = std::string(info->test_suite_name()) + "_" + info->name();
  for (char& c : name) {
    if (c == '/') c = '_';  // parameterised test names hold '/'
  }
  dir_ = std::filesystem::temp_directory_path() /
         ("rootopt_runtime_" + std::to_string(getpid()) + "_" + name);
  std::filesystem::remove_all(dir_);
  std::filesystem::create_directories(dir_);
}

void RuntimeTest::TearDown() { std::filesystem::remove_all(dir_); }

std::string RuntimeTest::write_table() const {
  CoefficientTable table;
  table.set({64, 64}, builtin_schedule("you", {64, 64}, 5));
  table.set({7, 300}, builtin_schedule("muon", {7, 300}, 5));
  table.set({100, 257}, builtin_schedule("polar-express", {100, 257}, 5));
  table.set({1, 1}, builtin_schedule("muon", {1, 1}, 5));
  const std::string file = path("table.h5");
  table.save(file);
  return file;
}

OptimizerConfig RuntimeTest::config(const std::string& table_path) {
  OptimizerConfig c;
  c.table_path = table_path;
  c.device = Device::cpu;
  c.warn = [this](const std::string& message) { warnings.push_back(message); };
  return c;
}

Eigen::MatrixXd random_matrix(int64_t rows, int64_t cols, std::mt19937_64& rng, double scale) {
  std::normal_distribution<double> normal(0.0, scale);
  Eigen::MatrixXd m(rows, cols);
  for (Eigen::Index i = 0; i < m.size(); ++i) m.data()[i] = normal(rng);
  return m;
}

Eigen::MatrixXd random_gradient(int64_t rows, int64_t cols, std::mt19937_64& rng) {
  Eigen::MatrixXd g = random_matrix(rows, cols, rng, 1e-2);
  std::bernoulli_distribution outlier(0.02);
  for (Eigen::Index i = 0; i < g.size(); ++i) {
    if (outlier(rng)) g.data()[i] *= 30;
  }
  return g;
}

HostParam::HostParam(std::string name, int64_t batch, int64_t rows, int64_t cols, DType dtype)
    : name_(std::move(name)),
      batch_(batch),
      rows_(rows),
      cols_(cols),
      dtype_(dtype),
      theta_(size_t(batch * rows * cols * (dtype == DType::fp32 ? 4 : 2)), 0),
      grad_(theta_.size(), 0) {}

ParamSpec HostParam::spec() {
  ParamSpec s;
  s.name = name_;
  s.batch = batch_;
  s.rows = rows_;
  s.cols = cols_;
  s.dtype = dtype_;
  s.param = theta_.data();
  s.grad = grad_.data();
  return s;
}

double HostParam::get(const std::vector<uint8_t>& data, int64_t index) const {
  if (dtype_ == DType::fp32) {
    float v;
    std::memcpy(&v, data.data() + 4 * index, 4);
    return v;
  }
  uint16_t h;
  std::memcpy(&h, data.data() + 2 * index, 2);
  return bf16_bits_to_float(h);
}

void HostParam::put(std::vector<uint8_t>& data, int64_t index, double value) {
  const auto v = static_cast<float>(value);
  if (dtype_ == DType::fp32) {
    std::memcpy(data.data() + 4 * index, &v, 4);
  } else {
    const uint16_t h = float_to_bf16_bits(v);
    std::memcpy(data.data() + 2 * index, &h, 2);
  }
}

Eigen::MatrixXd HostParam::theta(int64_t b) const {
  Eigen::MatrixXd m(rows_, cols_);
  for (int64_t i = 0; i < rows_; ++i)
    for (int64_t j = 0; j < cols_; ++j) m(i, j) = get(theta_, (b * rows_ + i) * cols_ + j);
  return m;
}

Eigen::MatrixXd HostParam::grad(int64_t b) const {
  Eigen::MatrixXd m(rows_, cols_);
  for (int64_t i = 0; i < rows_; ++i)
    for (int64_t j = 0; j < cols_; ++j) m(i, j) = get(grad_, (b * rows_ + i) * cols_ + j);
  return m;
}

void HostParam::set_theta(int64_t b, const Eigen::MatrixXd& values) {
  for (int64_t i = 0; i < rows_; ++i)
    for (int64_t j = 0; j < cols_; ++j) put(theta_, (b * rows_ + i) * cols_ + j, values(i, j));
}

void HostParam::set_grad(int64_t b, const Eigen::MatrixXd& values) {
  for (int64_t i = 0; i < rows_; ++i)
    for (int64_t j = 0; j < cols_; ++j) put(grad_, (b * rows_ + i) * cols_ + j, values(i, j));
}

void HostParam::set_grad_element(int64_t index, float value) { put(grad_, index, value); }

double relative_error(const Eigen::MatrixXd& a, const Eigen::MatrixXd& b) {
  return (a - b).norm() / b.norm();
}

}  // namespace rootopt::testing
