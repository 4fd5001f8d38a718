// CPU-only build: the CUDA backend is absent, and asking for it is a clear error.
#include "backend.h"
#include "check.h"

namespace rootopt::detail {

std::unique_ptr<Backend> make_cuda_backend() {
  ROOTOPT_FAIL("rootopt was built without CUDA (ROOTOPT_WITH_CUDA=OFF); use Device::cpu");
}

bool cuda_device_present() { return false; }

}  // namespace rootopt::detail
