// Shared pieces of the GPU tests: skipping without a device, random data, and parameters held
// twice (host memory for the CPU backend, device memory for the CUDA backend) so both backends
// can run the same step on the same numbers.
#pragma once

#include <gtest/gtest.h>

#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include "backend.h"
#include "cuda_device_buffer.h"
#include "rootopt/optimizer.h"

#define ROOTOPT_REQUIRE_CUDA()                                                       \
  do {                                                                               \
    if (!::rootopt::detail::cuda_device_present()) GTEST_SKIP() << "no CUDA device"; \
  } while (0)

namespace rootopt::testing {

// Gaussian values (sigma `scale`) with ~2% outliers multiplied by 30, so the soft threshold has
// something to clip.
std::vector<float> random_values(int64_t count, std::mt19937_64& rng, float scale = 1.0f);

// The values as the dtype stores them (bf16: rounded to nearest even).
std::vector<float> rounded(std::vector<float> values, DType dtype);

// ||a - b|| / ||b|| in fp64; fails the test (returns +inf) on a size mismatch.
double relative_error(const std::vector<float>& a, const std::vector<float>& b);
// Whether at least one value is non-zero (an unwritten output is all zeros).
bool any_nonzero(const std::vector<float>& values);

template <typename T>
std::vector<T> download(const void* device, int64_t count);
void upload(void* device, const void* host, size_t bytes);

// One parameter (batch x rows x cols) in host and device memory, same values in both.
class TwinParam {
 public:
  TwinParam(std::string name, int64_t batch, int64_t rows, int64_t cols, DType dtype);
  TwinParam(const TwinParam&) = delete;  // the backends hold pointers into it
  TwinParam& operator=(const TwinParam&) = delete;
  int64_t count() const { return batch_ * rows_ * cols_; }
  void set_theta(const std::vector<float>& values);  // rounded to the dtype, both copies
  void set_grad(const std::vector<float>& values);
  std::vector<float> host_theta() const;
  std::vector<float> device_theta() const;
  ParamSpec host_spec();  // momentum: allocated by the backend
  ParamSpec device_spec();
  detail::ParamEntry host_entry(const Schedule& schedule) { return {host_spec(), schedule}; }
  detail::ParamEntry device_entry(const Schedule& schedule) { return {device_spec(), schedule}; }

 private:
  std::string name_;
  int64_t batch_, rows_, cols_;
  DType dtype_;
  std::vector<uint8_t> host_theta_, host_grad_;
  cuda::DeviceBuffer device_theta_, device_grad_;
};

// Hyperparameters that make theta_new = theta_old - X_K: lr 1, no weight decay, no scale.
Hyperparams bare_update(Precision precision);

}  // namespace rootopt::testing
