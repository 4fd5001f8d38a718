// Internal: CUDA runtime status check shared by every CUDA source (core/cusolver_polar.cpp,
// runtime/cuda/). A failure becomes a rootopt::Error naming the call, the CUDA error and the
// caller's context (which parameter, which buffer). Include only from CUDA-enabled sources.
#pragma once

#include <cuda_runtime.h>

#include "check.h"

#define ROOTOPT_CUDA_CHECK(call, ...)                                               \
  do {                                                                              \
    const cudaError_t rootopt_cuda_status_ = (call);                                \
    if (rootopt_cuda_status_ != cudaSuccess)                                        \
      ::rootopt::detail::fail_call(                                                 \
          "CUDA", #call,                                                            \
          ::rootopt::detail::concat(cudaGetErrorName(rootopt_cuda_status_), " (",   \
                                    cudaGetErrorString(rootopt_cuda_status_), ")"), \
          ::rootopt::detail::concat(__VA_ARGS__));                                  \
  } while (0)
