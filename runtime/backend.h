// Internal: what a runtime backend (cpu/, cuda/) implements. runtime/optimizer.cpp owns the
// table, validation, fallback warnings and state files; a backend owns device memory and math.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "rootopt/optimizer.h"
#include "rootopt/recipe.h"

namespace rootopt::detail {

// A validated registration plus the recipe resolved for its shape.
struct ParamEntry {
  ParamSpec spec;
  Recipe recipe;
};

class Backend {
 public:
  virtual ~Backend() = default;
  // Registers parameter `id` (ids are dense, in registration order). Allocates momentum when
  // spec.momentum is null, and all workspace the step will need.
  virtual void add(int64_t id, const ParamEntry& entry) = 0;
  // New pointers for an already registered parameter (shape and dtype already checked).
  virtual void rebind(int64_t id, const ParamSpec& spec) = 0;
  // One ROOT step over every registered parameter; `hyperparams` are already validated. The
  // exact arithmetic every backend follows (precision of each operation, quantile definition,
  // bf16 rounding points) is written out in docs/runtime.md, "The step, operation by operation".
  virtual void step(const Hyperparams& hyperparams, void* stream) = 0;
  // Ids (ascending) of the parameters the last step skipped because their gradient, or the
  // momentum, direction or new weights computed from it, held NaN/Inf; their momentum and
  // weights are untouched.
  // May synchronise the stream of that step.
  virtual std::vector<int64_t> skipped_last_step() const = 0;
  // Host copies of momentum, for state files and tests.
  virtual std::vector<float> read_momentum(int64_t id) const = 0;
  virtual void write_momentum(int64_t id, const std::vector<float>& values) = 0;
};

// `threads` >= 1 parameters are stepped in parallel (see OptimizerConfig::cpu_threads).
std::unique_ptr<Backend> make_cpu_backend(int64_t threads = 1);
// Throws rootopt::Error when built without CUDA or when no device is present.
std::unique_ptr<Backend> make_cuda_backend();
bool cuda_device_present();  // false when built without CUDA

}  // namespace rootopt::detail
