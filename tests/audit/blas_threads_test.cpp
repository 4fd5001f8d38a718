// OpenBLAS's thread count while rootopt's own worker threads run LAPACK, and after: one OpenBLAS
// thread per worker during the tuner's and the audit's parallel parts, the caller's setting back
// afterwards (the tuner used to leave it at 1 for the rest of the process, and the audit ran
// every worker's SVDs on all cores).
#include <gtest/gtest.h>

#include <mutex>
#include <set>

#include "audit_test_support.h"
#include "blas_threads.h"
#include "rootopt/tuner.h"

namespace rootopt {
namespace {

using detail::blas_threads;
using detail::ScopedBlasThreads;

// Runs `body` with OpenBLAS at 2 threads, or skips when this BLAS cannot be set to 2.
template <typename Body>
void with_two_blas_threads(Body&& body) {
  if (blas_threads() == 0) GTEST_SKIP() << "the running BLAS is not OpenBLAS";
  const ScopedBlasThreads two(2);
  if (blas_threads() != 2) GTEST_SKIP() << "OpenBLAS runs at most 1 thread here";
  body();
}

TEST(BlasThreads, ScopesSetAndRestore) {
  if (blas_threads() == 0) GTEST_SKIP() << "the running BLAS is not OpenBLAS";
  const int before = blas_threads();
  {
    const ScopedBlasThreads one(1);
    EXPECT_EQ(blas_threads(), 1);
    {
      const ScopedBlasThreads unchanged(0);
      EXPECT_EQ(blas_threads(), 1);
    }
    EXPECT_EQ(blas_threads(), 1);
  }
  EXPECT_EQ(blas_threads(), before);
}

TEST(BlasThreads, TuningRunRestoresTheCount) {
  with_two_blas_threads([] {
    test::ScratchDir dir;
    TuneOptions options;
    options.mixture = std::make_shared<SpectrumMixture>(SpectrumMixture::parse("power-law"));
    options.samples = 8;
    options.heldout_samples = 8;
    options.search.random_starts = 0;
    options.validation.matrices = 1;
    options.validation.max_rank = 16;
    TuneRunOptions run;
    run.shapes = {{16, 32}, {24, 32}};
    run.out_path = (dir / "t.h5").string();
    run.threads = 2;
    EXPECT_EQ(run_tuning(run, options).tuned, 2);
    EXPECT_EQ(blas_threads(), 2);
  });
}

TEST(BlasThreads, AuditWorkersRunOneBlasThreadEachAndRestore) {
  with_two_blas_threads([] {
    AuditOptions options = test::small_options("tiny-llama.json");
    options.threads = 2;
    std::mutex mutex;
    std::set<int> seen;  // OpenBLAS's count whenever a task finished
    run_audit(options, [&](int64_t, int64_t) {
      std::lock_guard<std::mutex> lock(mutex);
      seen.insert(blas_threads());
    });
    EXPECT_EQ(seen, std::set<int>{1});
    EXPECT_EQ(blas_threads(), 2);
  });
}

}  // namespace
}  // namespace rootopt
