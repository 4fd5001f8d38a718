#include "tasks.h"

#include <mutex>

#include "parallel.h"

namespace rootopt::audit {

void run_parallel(const std::vector<Task>& tasks, int64_t threads, const AuditProgress& progress) {
  int64_t total = 0;
  for (const Task& task : tasks) total += task.cost;
  std::mutex mutex;  // guards `finished` and the progress callback
  int64_t finished = 0;
  detail::parallel_for(int64_t(tasks.size()), detail::worker_count(threads, int64_t(tasks.size())),
                       [&](int64_t i, int64_t) {
                         tasks[size_t(i)].run();
                         std::lock_guard<std::mutex> lock(mutex);
                         finished += tasks[size_t(i)].cost;
                         if (progress) progress(finished, total);
                       });
}

}  // namespace rootopt::audit
