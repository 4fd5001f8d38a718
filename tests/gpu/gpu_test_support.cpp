#include "gpu_test_support.h"

#include <cublas_v2.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <utility>

#include "cpu/momentum.h"
#include "cpu/newton_schulz.h"
#include "cpu/soft_threshold.h"
#include "cuda_check.h"
#include "cuda_status.h"
#include "rootopt/bf16.h"

namespace rootopt::testing {

std::vector<float> random_values(int64_t count, std::mt19937_64& rng, float scale) {
  std::normal_distribution<float> normal(0.0f, scale);
  std::uniform_real_distribution<float> uniform(0.0f, 1.0f);
  std::vector<float> values(static_cast<size_t>(count));
  for (float& v : values) v = normal(rng) * (uniform(rng) < 0.02f ? 30.0f : 1.0f);
  return values;
}

std::vector<float> rounded(std::vector<float> values, DType dtype) {
  if (dtype == DType::bf16)
    for (float& v : values) v = round_to_bf16(v);
  return values;
}

double relative_error(const std::vector<float>& a, const std::vector<float>& b) {
  EXPECT_EQ(a.size(), b.size());
  if (a.size() != b.size()) return INFINITY;
  double diff = 0, norm = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    diff += (double(a[i]) - b[i]) * (double(a[i]) - b[i]);
    norm += double(b[i]) * b[i];
  }
  return std::sqrt(diff / norm);
}

bool any_nonzero(const std::vector<float>& values) {
  for (float v : values)
    if (v != 0) return true;
  return false;
}

template <typename T>
std::vector<T> download(const void* device, int64_t count) {
  std::vector<T> host(static_cast<size_t>(count));
  ROOTOPT_CUDA_CHECK(
      cudaMemcpy(host.data(), device, sizeof(T) * host.size(), cudaMemcpyDeviceToHost),
      "test download");
  return host;
}
template std::vector<float> download<float>(const void*, int64_t);
template std::vector<uint16_t> download<uint16_t>(const void*, int64_t);

void upload(void* device, const void* host, size_t bytes) {
  ROOTOPT_CUDA_CHECK(cudaMemcpy(device, host, bytes, cudaMemcpyHostToDevice), "test upload");
}

namespace {

size_t element_bytes(DType dtype) { return dtype == DType::fp32 ? 4 : 2; }

std::vector<uint8_t> encode(const std::vector<float>& values, DType dtype) {
  std::vector<uint8_t> bytes(values.size() * element_bytes(dtype));
  for (size_t i = 0; i < values.size(); ++i) {
    if (dtype == DType::fp32) {
      std::memcpy(bytes.data() + 4 * i, &values[i], 4);
    } else {
      const uint16_t h = float_to_bf16_bits(values[i]);
      std::memcpy(bytes.data() + 2 * i, &h, 2);
    }
  }
  return bytes;
}

std::vector<float> decode(const std::vector<uint8_t>& bytes, DType dtype) {
  std::vector<float> values(bytes.size() / element_bytes(dtype));
  for (size_t i = 0; i < values.size(); ++i) {
    if (dtype == DType::fp32) {
      std::memcpy(&values[i], bytes.data() + 4 * i, 4);
    } else {
      uint16_t h;
      std::memcpy(&h, bytes.data() + 2 * i, 2);
      values[i] = bf16_bits_to_float(h);
    }
  }
  return values;
}

}  // namespace

TwinParam::TwinParam(std::string name, int64_t batch, int64_t rows, int64_t cols, DType dtype)
    : name_(std::move(name)),
      batch_(batch),
      rows_(rows),
      cols_(cols),
      dtype_(dtype),
      host_theta_(size_t(count()) * element_bytes(dtype)),
      host_grad_(size_t(count()) * element_bytes(dtype)),
      device_theta_(host_theta_.size(), "test theta"),
      device_grad_(host_grad_.size(), "test grad") {
  set_theta(std::vector<float>(size_t(count()), 0.0f));
  set_grad(std::vector<float>(size_t(count()), 0.0f));
}

void TwinParam::set_theta(const std::vector<float>& values) {
  const std::vector<uint8_t> bytes = encode(values, dtype_);
  std::copy(bytes.begin(), bytes.end(), host_theta_.begin());  // keep the registered pointer
  upload(device_theta_.get(), host_theta_.data(), host_theta_.size());
}

void TwinParam::set_grad(const std::vector<float>& values) {
  grad_ = values;
  const std::vector<uint8_t> bytes = encode(values, dtype_);
  std::copy(bytes.begin(), bytes.end(), host_grad_.begin());
  upload(device_grad_.get(), host_grad_.data(), host_grad_.size());
}

std::vector<float> TwinParam::host_theta() const { return decode(host_theta_, dtype_); }

std::vector<float> TwinParam::device_theta() const {
  std::vector<uint8_t> bytes(host_theta_.size());
  ROOTOPT_CUDA_CHECK(cudaDeviceSynchronize(), "test sync");
  ROOTOPT_CUDA_CHECK(
      cudaMemcpy(bytes.data(), device_theta_.get(), bytes.size(), cudaMemcpyDeviceToHost),
      "test download");
  return decode(bytes, dtype_);
}

ParamSpec TwinParam::host_spec() {
  ParamSpec spec;
  spec.name = name_;
  spec.batch = batch_;
  spec.rows = rows_;
  spec.cols = cols_;
  spec.dtype = dtype_;
  spec.param = host_theta_.data();
  spec.grad = host_grad_.data();
  return spec;
}

ParamSpec TwinParam::device_spec() {
  ParamSpec spec = host_spec();
  spec.param = device_theta_.get();
  spec.grad = device_grad_.get();
  return spec;
}

Recipe polar_express_recipe(Normalization normalization, IterationForm form, int64_t steps,
                            std::vector<int64_t> restarts, int64_t tail, Precision tail_precision) {
  Recipe recipe(builtin_schedule("polar-express", {1, 1}, steps));
  recipe.normalization = normalization;
  recipe.form = form;
  recipe.restarts = std::move(restarts);
  recipe.tail_steps = tail;
  recipe.tail_precision = tail_precision;
  recipe.validate("test recipe");
  return recipe;
}

std::vector<float> cpu_x0(const std::vector<float>& grad, const Hyperparams& h) {
  std::vector<float> u(grad.size()), scratch(grad.size());
  for (size_t i = 0; i < grad.size(); ++i)
    u[i] = detail::cpu::momentum_step(0.0f, grad[i], h.momentum, h.nesterov).direction;
  const int64_t n = int64_t(u.size());
  detail::cpu::clamp_in_place(u.data(), n,
                              detail::cpu::threshold_epsilon(u.data(), n, h, scratch.data()));
  detail::cpu::normalize_frobenius(u.data(), n);
  return u;
}

namespace {

class Cublas {
 public:
  Cublas() { ROOTOPT_CUBLAS_CHECK(cublasCreate(&handle_), "test handle"); }
  ~Cublas() { cublasDestroy(handle_); }
  Cublas(const Cublas&) = delete;
  Cublas& operator=(const Cublas&) = delete;
  cublasHandle_t get() const { return handle_; }

 private:
  cublasHandle_t handle_ = nullptr;
};

double sum_of_squares(const cuda::DeviceBuffer& device, size_t count) {
  std::vector<double> host(count);
  ROOTOPT_CUDA_CHECK(
      cudaMemcpy(host.data(), device.get(), sizeof(double) * count, cudaMemcpyDeviceToHost),
      "reference download");
  double s = 0;
  for (double v : host) s += v * v;
  return s;
}

}  // namespace

std::vector<float> fp64_newton_schulz(const std::vector<float>& x0, int64_t rows, int64_t cols,
                                      const Recipe& recipe) {
  // Column-major view D of the row-major matrix: cols x rows; A = D^T D (wide) or D D^T (tall).
  const bool wide = rows <= cols;
  const int m = int(cols), n = int(rows), s = int(std::min(rows, cols));
  std::vector<double> host(x0.begin(), x0.end());
  const size_t big = sizeof(double) * host.size(), square = sizeof(double) * size_t(s) * s;
  cuda::DeviceBuffer d(big, "D"), next(big, "D'"), a(square, "A"), p(square, "P");
  upload(d.get(), host.data(), big);
  Cublas blas;
  const double one = 1, zero = 0;
  double *x = d.as<double>(), *y = next.as<double>();
  const int order =
      recipe.normalization == Normalization::frobenius ? 0 : schatten_order(recipe.normalization);
  for (int64_t k = 0; k < recipe.steps(); ++k) {
    QuinticStep c = recipe.schedule[k];
    if (wide)
      ROOTOPT_CUBLAS_CHECK(cublasDgemm(blas.get(), CUBLAS_OP_T, CUBLAS_OP_N, s, s, m, &one, x, m, x,
                                       m, &zero, a.as<double>(), s),
                           "A");
    else
      ROOTOPT_CUBLAS_CHECK(cublasDgemm(blas.get(), CUBLAS_OP_N, CUBLAS_OP_T, s, s, n, &one, x, m, x,
                                       m, &zero, a.as<double>(), s),
                           "A");
    if (k == 0 && order != 0) {  // alpha = ||sigma(X0)||_p from A or A^2, folded into step 1
      double sum = 0;
      if (order == 4) {
        sum = sum_of_squares(a, size_t(s) * s);
      } else {
        ROOTOPT_CUBLAS_CHECK(
            cublasDgemm(blas.get(), CUBLAS_OP_N, CUBLAS_OP_N, s, s, s, &one, a.as<double>(), s,
                        a.as<double>(), s, &zero, p.as<double>(), s),
            "A^2");
        sum = sum_of_squares(p, size_t(s) * s);
      }
      const double alpha = sum > 0 ? std::pow(sum, 1.0 / order) : 1.0;
      c = {c.a / alpha, c.b / std::pow(alpha, 3), c.c / std::pow(alpha, 5)};
    }
    ROOTOPT_CUDA_CHECK(cudaMemcpy(p.get(), a.get(), square, cudaMemcpyDeviceToDevice), "P = A");
    ROOTOPT_CUBLAS_CHECK(cublasDgemm(blas.get(), CUBLAS_OP_N, CUBLAS_OP_N, s, s, s, &c.c,
                                     a.as<double>(), s, a.as<double>(), s, &c.b, p.as<double>(), s),
                         "P");
    ROOTOPT_CUDA_CHECK(cudaMemcpy(y, x, big, cudaMemcpyDeviceToDevice), "X' = X");
    if (wide)  // X' = a D + D P
      ROOTOPT_CUBLAS_CHECK(cublasDgemm(blas.get(), CUBLAS_OP_N, CUBLAS_OP_N, m, n, s, &one, x, m,
                                       p.as<double>(), s, &c.a, y, m),
                           "X'");
    else  // X' = a D + P D
      ROOTOPT_CUBLAS_CHECK(cublasDgemm(blas.get(), CUBLAS_OP_N, CUBLAS_OP_N, m, n, s, &one,
                                       p.as<double>(), s, x, m, &c.a, y, m),
                           "X'");
    std::swap(x, y);
  }
  ROOTOPT_CUDA_CHECK(cudaMemcpy(host.data(), x, big, cudaMemcpyDeviceToHost), "X_K");
  return {host.begin(), host.end()};
}

Hyperparams bare_update(Precision precision) {
  Hyperparams h;
  h.lr = 1.0f;
  h.weight_decay = 0.0f;
  h.scale = ScaleMode::none;
  h.precision = precision;
  return h;
}

}  // namespace rootopt::testing
