// core/parallel.h: every index runs exactly once on a valid worker for any thread count, and a
// failure stops the pool and surfaces the lowest failed index's exception.
#include "parallel.h"

#include <gtest/gtest.h>

#include <atomic>
#include <stdexcept>
#include <string>
#include <vector>

#include "rootopt/error.h"

namespace rootopt::detail {
namespace {

TEST(ParallelFor, EveryIndexRunsOnceOnAValidWorker) {
  for (const int64_t workers : {1, 2, 3, 8}) {
    for (const int64_t count : {0, 1, 2, 7, 100}) {
      std::vector<std::atomic<int>> runs(static_cast<size_t>(count));
      std::atomic<bool> bad_worker{false};
      const int64_t used = worker_count(workers, count);
      parallel_for(count, used, [&](int64_t i, int64_t worker) {
        if (worker < 0 || worker >= used) bad_worker = true;
        ++runs[size_t(i)];
      });
      EXPECT_FALSE(bad_worker) << workers << " workers, " << count << " items";
      for (int64_t i = 0; i < count; ++i)
        EXPECT_EQ(runs[size_t(i)].load(), 1) << "index " << i << ", " << workers << " workers";
    }
  }
}

TEST(ParallelFor, WorkerCountResolvesZeroAndClampsToItems) {
  EXPECT_GE(worker_count(0, 1000), 1);
  EXPECT_EQ(worker_count(5, 3), 3);
  EXPECT_EQ(worker_count(5, 0), 1);
  EXPECT_EQ(worker_count(2), 2);
  EXPECT_THROW(worker_count(-1, 4), Error);
  // A negative count is a caller's bug, not bad input: the invariant check's own type.
  EXPECT_THROW(parallel_for(-1, 1, [](int64_t, int64_t) {}), InternalError);
  try {
    worker_count(-1, 4);
  } catch (const InternalError&) {
    ADD_FAILURE() << "a bad thread count is the user's input, not an internal error";
  } catch (const Error&) {
  }
}

TEST(ParallelFor, FailureRethrowsTheLowestFailedIndexAndStopsStartingWork) {
  for (const int64_t workers : {1, 2, 4}) {
    std::atomic<int64_t> started{0};
    try {
      parallel_for(1000, workers, [&](int64_t i, int64_t) {
        ++started;
        if (i == 3 || i == 5) throw std::runtime_error("item " + std::to_string(i));
      });
      ADD_FAILURE() << "no exception";
    } catch (const std::runtime_error& e) {
      // One worker reaches index 3 first and stops. With more, 5 can fail before the worker
      // holding 3 runs it (and that worker then skips it): either way the lowest index that
      // failed is reported, and with one worker that is always 3.
      const std::string what = e.what();
      if (workers == 1)
        EXPECT_EQ(what, "item 3");
      else
        EXPECT_TRUE(what == "item 3" || what == "item 5") << what;
    }
    // Each worker stops at its next index after a failure: far fewer than 1000 start.
    EXPECT_LT(started.load(), 100) << workers << " workers";
  }
}

}  // namespace
}  // namespace rootopt::detail
