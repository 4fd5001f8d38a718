// Polar factor U V^T by an fp64 Jacobi SVD on the GPU (cusolverDnDgesvdj, economy mode), for
// validating Newton-Schulz results on shapes where a CPU SVD is slow. Host code only: the cuSOLVER
// C API needs no nvcc. Every CUDA and cuSOLVER status is checked and becomes a rootopt::Error.
#include "cusolver_polar.h"

#include <cuda_runtime.h>
#include <cusolverDn.h>

#include <algorithm>
#include <cstdint>

#include "check.h"
#include "cuda_device_buffer.h"
#include "cuda_handle.h"
#include "cuda_status.h"

namespace rootopt {
namespace {

#define ROOTOPT_CUSOLVER_CHECK(call, ...)                                        \
  do {                                                                           \
    const cusolverStatus_t polar_status_ = (call);                               \
    if (polar_status_ != CUSOLVER_STATUS_SUCCESS)                                \
      ::rootopt::detail::fail_call(                                              \
          "cuSOLVER", #call,                                                     \
          ::rootopt::detail::concat("status ", static_cast<int>(polar_status_)), \
          ::rootopt::detail::concat(__VA_ARGS__));                               \
  } while (0)

using CusolverHandle = cuda::CudaHandle<cusolverDnHandle_t, cusolverDnDestroy>;
using GesvdjParams = cuda::CudaHandle<gesvdjInfo_t, cusolverDnDestroyGesvdjInfo>;

class CusolverPolarSolver final : public PolarSolver {
 public:
  std::string name() const override { return "cusolver"; }

  PolarFactor polar(const Eigen::MatrixXd& matrix) const override {
    const int64_t m = matrix.rows(), n = matrix.cols(), r = std::min(m, n);
    ROOTOPT_CHECK(m > 0 && n > 0, "cusolver polar: empty ", m, "x", n, " matrix");
    ROOTOPT_CHECK(matrix.allFinite(), "cusolver polar: non-finite entry in the ", m, "x", n,
                  " input");
    const std::string where = detail::concat("polar factor of a ", m, "x", n, " matrix");
    const int mi = static_cast<int>(m), ni = static_cast<int>(n);
    CusolverHandle handle;
    ROOTOPT_CUSOLVER_CHECK(cusolverDnCreate(handle.out()), "creating the handle");
    GesvdjParams params;
    ROOTOPT_CUSOLVER_CHECK(cusolverDnCreateGesvdjInfo(params.out()), "gesvdj info");
    // Default tolerance is machine epsilon; raise the sweep cap so large matrices converge.
    ROOTOPT_CUSOLVER_CHECK(cusolverDnXgesvdjSetMaxSweeps(params.get(), 200), where);
    const auto doubles = [&](int64_t count, const char* what) {
      return cuda::DeviceBuffer(sizeof(double) * static_cast<size_t>(count),
                                detail::concat(what, " of the ", where));
    };
    const cuda::DeviceBuffer a_buf = doubles(m * n, "input"), s_buf = doubles(r, "singular values"),
                             u_buf = doubles(m * r, "U"), v_buf = doubles(n * r, "V"),
                             info(sizeof(int), "gesvdj info");
    double *a = a_buf.as<double>(), *s = s_buf.as<double>(), *u = u_buf.as<double>(),
           *v = v_buf.as<double>();
    ROOTOPT_CUDA_CHECK(cudaMemcpy(a, matrix.data(), sizeof(double) * m * n, cudaMemcpyHostToDevice),
                       where);
    int lwork = 0;
    ROOTOPT_CUSOLVER_CHECK(
        cusolverDnDgesvdj_bufferSize(handle.get(), CUSOLVER_EIG_MODE_VECTOR, 1, mi, ni, a, mi, s, u,
                                     mi, v, ni, &lwork, params.get()),
        where);
    const cuda::DeviceBuffer work_buf = doubles(lwork, "gesvdj workspace");
    double* work = work_buf.as<double>();
    ROOTOPT_CUSOLVER_CHECK(
        cusolverDnDgesvdj(handle.get(), CUSOLVER_EIG_MODE_VECTOR, 1, mi, ni, a, mi, s, u, mi, v, ni,
                          work, lwork, info.as<int>(), params.get()),
        where);
    int info_host = 0;
    ROOTOPT_CUDA_CHECK(cudaMemcpy(&info_host, info.as<int>(), sizeof(int), cudaMemcpyDeviceToHost),
                       where);
    // info > 0: Jacobi sweeps did not converge to the tolerance; < 0: a bad argument.
    ROOTOPT_CHECK(info_host == 0, "cusolverDnDgesvdj info = ", info_host, " for the ", where);
    Eigen::MatrixXd uh(m, r), vh(n, r);
    Eigen::VectorXd sh(r);
    ROOTOPT_CUDA_CHECK(cudaMemcpy(uh.data(), u, sizeof(double) * m * r, cudaMemcpyDeviceToHost),
                       where);
    ROOTOPT_CUDA_CHECK(cudaMemcpy(vh.data(), v, sizeof(double) * n * r, cudaMemcpyDeviceToHost),
                       where);
    ROOTOPT_CUDA_CHECK(cudaMemcpy(sh.data(), s, sizeof(double) * r, cudaMemcpyDeviceToHost), where);
    PolarFactor result;
    result.polar = uh * vh.transpose();
    // gesvdj does not promise an order: sort descending as the PolarFactor contract says.
    result.singular_values.assign(sh.data(), sh.data() + r);
    std::sort(result.singular_values.begin(), result.singular_values.end(),
              [](double x, double y) { return x > y; });
    return result;
  }
};

}  // namespace

std::unique_ptr<PolarSolver> make_cusolver_polar_solver() {
  int count = 0;
  if (cudaGetDeviceCount(&count) != cudaSuccess || count == 0) {
    cudaGetLastError();  // clear the sticky "no device" status for later callers
    return nullptr;
  }
  return std::make_unique<CusolverPolarSolver>();
}

}  // namespace rootopt
