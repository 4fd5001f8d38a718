// Internal: the one worker pool of rootopt. The audit's shapes, the CPU backend's matrices and the
// tuner's shapes are independent work items whose results go into slots chosen by the caller, so
// the outcome never depends on which thread ran what.
#pragma once

#include <cstdint>
#include <functional>
#include <limits>

namespace rootopt::detail {

// Threads to use for `items` work items when `requested` were asked for (0: every hardware
// thread): at least 1, at most max(items, 1).
int64_t worker_count(int64_t requested, int64_t items = std::numeric_limits<int64_t>::max());

// Calls work(index, worker) for every index in [0, count) on `workers` threads (the caller's is
// worker 0), each taking the next index from a shared counter, so every index runs exactly once
// and `worker` (in [0, workers)) can select per-thread scratch space. When a call throws, no
// further index starts; after every thread has joined, the exception of the lowest failed index
// is rethrown. No thread outlives the call.
void parallel_for(int64_t count, int64_t workers,
                  const std::function<void(int64_t index, int64_t worker)>& work);

}  // namespace rootopt::detail
