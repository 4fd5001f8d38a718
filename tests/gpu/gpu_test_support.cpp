#include "gpu_test_support.h"

#include <algorithm>
#include <cmath>
#include <cstring>

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

Hyperparams bare_update(Precision precision) {
  Hyperparams h;
  h.lr = 1.0f;
  h.weight_decay = 0.0f;
  h.scale = ScaleMode::none;
  h.precision = precision;
  return h;
}

}  // namespace rootopt::testing
