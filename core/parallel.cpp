#include "parallel.h"

#include <algorithm>
#include <atomic>
#include <exception>
#include <system_error>
#include <thread>
#include <vector>

#include "check.h"

namespace rootopt::detail {

int64_t worker_count(int64_t requested, int64_t items) {
  ROOTOPT_CHECK(requested >= 0, "thread count must be >= 0, got ", requested);
  const int64_t hardware = std::max<int64_t>(1, std::thread::hardware_concurrency());
  return std::clamp<int64_t>(requested == 0 ? hardware : requested, 1, std::max<int64_t>(items, 1));
}

void parallel_for(int64_t count, int64_t workers,
                  const std::function<void(int64_t index, int64_t worker)>& work) {
  ROOTOPT_ASSERT(count >= 0 && workers >= 1, "parallel_for(", count, ", ", workers, ")");
  workers = std::min(workers, std::max<int64_t>(count, 1));
  std::atomic<int64_t> next{0};
  std::atomic<bool> failed{false};
  std::vector<std::exception_ptr> errors(static_cast<size_t>(count));
  const auto run = [&](int64_t worker) {
    for (int64_t i = next++; i < count && !failed; i = next++) {
      try {
        work(i, worker);
      } catch (...) {
        errors[static_cast<size_t>(i)] = std::current_exception();
        failed = true;
      }
    }
  };
  std::vector<std::thread> pool;
  pool.reserve(static_cast<size_t>(workers - 1));
  try {
    for (int64_t t = 1; t < workers; ++t) pool.emplace_back(run, t);
  } catch (const std::system_error&) {
    // Out of threads: the ones started and this one still run every index.
  }
  run(0);
  for (std::thread& thread : pool) thread.join();
  for (const std::exception_ptr& error : errors)
    if (error) std::rethrow_exception(error);
}

}  // namespace rootopt::detail
