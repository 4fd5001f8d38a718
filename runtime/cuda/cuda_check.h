// Internal: CUDA / cuBLAS status checks for the CUDA backend, built on rootopt::detail::fail_call
// (core/check.h). Every failure becomes a rootopt::Error naming the call, the status, and the
// caller's context (which parameter or group), e.g.
//   ROOTOPT_CUBLAS_CHECK(cublasLtMatmul(...), "Gram GEMM of group ", key);
#pragma once

#include <cublasLt.h>
#include <cublas_v2.h>

#include "cuda_status.h"  // core/: ROOTOPT_CUDA_CHECK

#define ROOTOPT_CUBLAS_CHECK(call, ...)                                                  \
  do {                                                                                   \
    const cublasStatus_t rootopt_cublas_status_ = (call);                                \
    if (rootopt_cublas_status_ != CUBLAS_STATUS_SUCCESS)                                 \
      ::rootopt::detail::fail_call(                                                      \
          "cuBLAS", #call,                                                               \
          ::rootopt::detail::concat(cublasGetStatusName(rootopt_cublas_status_), " (",   \
                                    cublasGetStatusString(rootopt_cublas_status_), ")"), \
          ::rootopt::detail::concat(__VA_ARGS__));                                       \
  } while (0)

// After a kernel launch: launch-configuration errors surface here, not at the next sync.
#define ROOTOPT_CUDA_CHECK_LAUNCH(...) ROOTOPT_CUDA_CHECK(cudaGetLastError(), __VA_ARGS__)
