// Internal: owning device allocation (cudaMalloc / cudaFree), move-only, for every CUDA source
// (core/cusolver_polar.cpp, runtime/cuda/). The CUDA backend
// allocates every buffer at registration (Backend::add) and never inside step().
#pragma once

#include <cuda_runtime.h>

#include <cstddef>
#include <string>
#include <utility>

#include "cuda_status.h"

namespace rootopt::cuda {

class DeviceBuffer {
 public:
  DeviceBuffer() = default;
  // `what` names the buffer in the error message if the allocation fails.
  DeviceBuffer(size_t bytes, const std::string& what) : bytes_(bytes) {
    if (bytes > 0) ROOTOPT_CUDA_CHECK(cudaMalloc(&data_, bytes), bytes, " bytes for ", what);
  }
  DeviceBuffer(DeviceBuffer&& o) noexcept
      : data_(std::exchange(o.data_, nullptr)), bytes_(std::exchange(o.bytes_, 0)) {}
  DeviceBuffer& operator=(DeviceBuffer&& o) noexcept {
    std::swap(data_, o.data_);
    std::swap(bytes_, o.bytes_);
    return *this;
  }
  DeviceBuffer(const DeviceBuffer&) = delete;
  DeviceBuffer& operator=(const DeviceBuffer&) = delete;
  ~DeviceBuffer() {
    if (data_) cudaFree(data_);  // cannot throw from a destructor; a failure here is fatal anyway
  }

  void* get() const { return data_; }
  template <typename T>
  T* as() const {
    return static_cast<T*>(data_);
  }
  size_t bytes() const { return bytes_; }

 private:
  void* data_ = nullptr;
  size_t bytes_ = 0;
};

}  // namespace rootopt::cuda
