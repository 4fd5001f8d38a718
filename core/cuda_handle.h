// Internal: RAII ownership of a CUDA-library handle or descriptor (cuBLASLt, cuSOLVER, ...):
// `Destroy` runs on destruction; creation stays with the caller, through out(), so that its
// status is checked with the macro of that library, e.g.
//   CudaHandle<cusolverDnHandle_t, cusolverDnDestroy> solver;
//   ROOTOPT_CUSOLVER_CHECK(cusolverDnCreate(solver.out()), "...");
#pragma once

namespace rootopt::cuda {

template <typename T, auto Destroy>
class CudaHandle {
 public:
  CudaHandle() = default;
  ~CudaHandle() {
    if (handle_) Destroy(handle_);  // a failing destroy cannot be reported from a destructor
  }
  CudaHandle(const CudaHandle&) = delete;
  CudaHandle& operator=(const CudaHandle&) = delete;
  T get() const { return handle_; }
  T* out() { return &handle_; }  // for the library's Create call

 private:
  T handle_ = nullptr;
};

}  // namespace rootopt::cuda
