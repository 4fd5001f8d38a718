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
#include "rootopt/recipe.h"

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
  detail::ParamEntry host_entry(const Recipe& recipe) { return {host_spec(), recipe}; }
  detail::ParamEntry device_entry(const Recipe& recipe) { return {device_spec(), recipe}; }
  const std::vector<float>& grad_values() const { return grad_; }  // as set (before rounding)

 private:
  std::string name_;
  int64_t batch_, rows_, cols_;
  DType dtype_;
  std::vector<uint8_t> host_theta_, host_grad_;
  std::vector<float> grad_;
  cuda::DeviceBuffer device_theta_, device_grad_;
};

// Hyperparameters that make theta_new = theta_old - X_K: lr 1, no weight decay, no scale.
Hyperparams bare_update(Precision precision);

// Polar Express (the built-in, 1.01 safety factor) with `steps` steps, run as the recipe says:
// normalisation, form, restarts after the given steps, the last `tail` steps in `tail_precision`.
Recipe polar_express_recipe(Normalization normalization, IterationForm form, int64_t steps,
                            std::vector<int64_t> restarts = {}, int64_t tail = 0,
                            Precision tail_precision = Precision::fp32);

// X0 of one rows x cols matrix whose momentum is zero, exactly as the CPU backend forms it before
// Newton-Schulz (momentum, threshold, Frobenius normalisation; not rounded to bf16).
std::vector<float> cpu_x0(const std::vector<float>& grad, const Hyperparams& h);

// The fp64 reference of X_K from X0 (row-major rows x cols, one matrix): the recipe in exact
// arithmetic, on the GPU with plain cublasDgemm. The standard and Gram forms, restarts and the
// precision tail are all the same map in exact arithmetic (docs/recipes.md), so this runs the
// standard form; a Schatten normalisation divides step 1's coefficients by
// alpha = ||A||_F^(1/2) or ||A^2||_F^(1/4), A = X0 X0^T (all fp64).
std::vector<float> fp64_newton_schulz(const std::vector<float>& x0, int64_t rows, int64_t cols,
                                      const Recipe& recipe);

}  // namespace rootopt::testing
