// Buffers shared by the GPU benchmarks: one group of `batch` row-major rows x cols matrices with
// parameters, gradients and momentum on the device, and a CUDA-event timer.
#pragma once

#include <cuda_runtime.h>

#include <cstdint>

#include "cuda_device_buffer.h"
#include "rootopt/optimizer.h"

namespace rootopt::bench {

struct BenchShape {
  int64_t batch = 1, rows = 0, cols = 0;
  DType dtype = DType::bf16;
  int64_t elements() const { return rows * cols; }
  int64_t total() const { return batch * rows * cols; }
  int64_t small() const { return rows < cols ? rows : cols; }
  int64_t large() const { return rows < cols ? cols : rows; }
};

// Elapsed device time between two events recorded around enqueued work.
class EventTimer {
 public:
  EventTimer();
  ~EventTimer();
  EventTimer(const EventTimer&) = delete;
  EventTimer& operator=(const EventTimer&) = delete;
  void start(cudaStream_t stream);
  double stop_ms(cudaStream_t stream);  // synchronises on the stop event

 private:
  cudaEvent_t start_ = nullptr, stop_ = nullptr;
};

}  // namespace rootopt::bench
