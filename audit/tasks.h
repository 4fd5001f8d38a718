// The audit's independent work items with their progress, run on rootopt's worker pool
// (core/parallel.h). Results go into slots chosen by the caller, so the outcome does not depend
// on which thread ran what (determinism under a seed).
#pragma once

#include <cstdint>
#include <functional>
#include <vector>

#include "rootopt/audit.h"

namespace rootopt::audit {

struct Task {
  std::function<void()> run;
  int64_t cost = 1;  // estimated work units, for the progress line's ETA
};

// Runs every task on up to `threads` workers (0: all hardware threads), in the given order of
// start. After each task `progress(finished cost, total cost)` is called under a lock. If a task
// throws, the remaining tasks are not started and the first exception is rethrown here.
void run_parallel(const std::vector<Task>& tasks, int64_t threads, const AuditProgress& progress);

}  // namespace rootopt::audit
