// OpenBLAS (the LAPACK behind rootopt's SVDs on Debian) runs its own thread pool. Code that runs
// its own worker threads, each calling LAPACK, keeps OpenBLAS to one thread while they run, or
// the two pools oversubscribe the cores: a tuning run measured 5x slower in wall time (Llama-3-8B:
// 33.5 s vs 6.4 s on 2 cores). OpenBLAS's count is process-wide, so it is set for a scope only
// and restored after: a training process or a later single-threaded SVD gets every core back.
#pragma once

namespace rootopt::detail {

class ScopedBlasThreads {
 public:
  // Sets OpenBLAS to `threads` threads; threads < 1 leaves the count as it is. No effect when the
  // running BLAS is not OpenBLAS. Scopes nest; overlapping scopes on different threads do not
  // (the count is one process-wide setting).
  explicit ScopedBlasThreads(int threads);
  ~ScopedBlasThreads();  // restores the count found at construction
  ScopedBlasThreads(const ScopedBlasThreads&) = delete;
  ScopedBlasThreads& operator=(const ScopedBlasThreads&) = delete;

 private:
  int previous_ = 0;  // 0: nothing to restore
};

// OpenBLAS's current thread count; 0 when the running BLAS is not OpenBLAS.
int blas_threads();

}  // namespace rootopt::detail
