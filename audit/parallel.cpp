#include "parallel.h"

#include <algorithm>
#include <atomic>
#include <exception>
#include <mutex>
#include <thread>

#include "check.h"

namespace rootopt::audit {

void run_parallel(const std::vector<Task>& tasks, int64_t threads, const AuditProgress& progress) {
  ROOTOPT_CHECK(threads >= 0, "thread count must be >= 0, got ", threads);
  if (threads == 0) threads = std::max<int64_t>(1, std::thread::hardware_concurrency());
  threads = std::min<int64_t>(threads, std::max<int64_t>(1, int64_t(tasks.size())));
  int64_t total = 0;
  for (const Task& task : tasks) total += task.cost;

  std::atomic<int64_t> next{0};
  std::atomic<bool> failed{false};
  std::mutex mutex;  // guards `finished`, `error` and the progress callback
  int64_t finished = 0;
  std::exception_ptr error;
  const auto worker = [&]() {
    for (int64_t i = next++; i < int64_t(tasks.size()) && !failed; i = next++) {
      try {
        tasks[size_t(i)].run();
      } catch (...) {
        std::lock_guard<std::mutex> lock(mutex);
        if (!error) error = std::current_exception();
        failed = true;
        return;
      }
      std::lock_guard<std::mutex> lock(mutex);
      finished += tasks[size_t(i)].cost;
      if (progress) progress(finished, total);
    }
  };
  std::vector<std::thread> pool;
  for (int64_t t = 1; t < threads; ++t) pool.emplace_back(worker);
  worker();
  for (std::thread& thread : pool) thread.join();
  if (error) std::rethrow_exception(error);
}

}  // namespace rootopt::audit
