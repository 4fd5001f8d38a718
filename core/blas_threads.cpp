#include "blas_threads.h"

// Declared weak so rootopt links against any LAPACK; they resolve only when the running BLAS is
// OpenBLAS.
extern "C" void openblas_set_num_threads(int threads) __attribute__((weak));
extern "C" int openblas_get_num_threads() __attribute__((weak));

namespace rootopt::detail {

int blas_threads() { return openblas_get_num_threads != nullptr ? openblas_get_num_threads() : 0; }

ScopedBlasThreads::ScopedBlasThreads(int threads) {
  if (threads < 1 || openblas_set_num_threads == nullptr || openblas_get_num_threads == nullptr)
    return;
  previous_ = openblas_get_num_threads();
  openblas_set_num_threads(threads);
}

ScopedBlasThreads::~ScopedBlasThreads() {
  if (previous_ > 0) openblas_set_num_threads(previous_);
}

}  // namespace rootopt::detail
