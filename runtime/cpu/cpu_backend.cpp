// The CPU backend: the five ROOT steps per matrix, in fp32 with Eigen GEMMs. Matrices may be
// stepped in parallel, each by one thread with that thread's workspace: a matrix's arithmetic
// is the same whichever thread runs it, so the step is deterministic for any thread count.
#include <algorithm>
#include <atomic>
#include <exception>
#include <memory>
#include <thread>
#include <utility>
#include <vector>

#include "backend.h"
#include "check.h"
#include "matrix_view.h"
#include "momentum.h"
#include "newton_schulz.h"
#include "soft_threshold.h"
#include "update.h"

namespace rootopt::detail {
namespace {

struct CpuParam {
  ParamEntry entry;
  std::vector<float> owned_momentum;  // used when the caller passed no momentum buffer
  float* momentum = nullptr;
};

// What one thread needs to step any registered parameter, sized for the largest.
struct Workspace {
  std::vector<float> direction;  // U, then B, X0 ... X_K, in the Newton-Schulz orientation
  std::vector<float> scratch;    // |U| for the quantile selection
  cpu::NewtonSchulzWorkspace newton_schulz;

  void reserve(const ParamSpec& spec) {
    const auto matrix = static_cast<size_t>(spec.rows * spec.cols);
    if (direction.size() < matrix) direction.resize(matrix);
    if (scratch.size() < matrix) scratch.resize(matrix);
    newton_schulz.reserve(std::min(spec.rows, spec.cols), std::max(spec.rows, spec.cols));
  }
};

int64_t element_count(const ParamSpec& spec) { return spec.batch * spec.rows * spec.cols; }

// Step 0: whether the new momentum and direction of the whole parameter are finite.
bool param_is_finite(const CpuParam& param, const Hyperparams& h) {
  const ParamSpec& spec = param.entry.spec;
  return cpu::momentum_step_is_finite(spec.grad, spec.dtype, param.momentum, element_count(spec),
                                      h.momentum, h.nesterov);
}

// Steps 1-5 for matrix `b` of a parameter (writes only that matrix's momentum and weights).
void step_matrix(CpuParam& param, int64_t b, const Hyperparams& h, Workspace& ws) {
  const ParamSpec& spec = param.entry.spec;
  const cpu::MatrixView view{b * spec.rows * spec.cols, spec.rows, spec.cols};
  float* u = ws.direction.data();
  cpu::apply_momentum_step(view, spec.grad, spec.dtype, param.momentum, h.momentum, h.nesterov, u);
  const float eps = cpu::threshold_epsilon(u, view.size(), h, ws.scratch.data());
  cpu::clamp_in_place(u, view.size(), eps);
  cpu::normalize_frobenius(u, view.size());
  cpu::newton_schulz(u, view.ns_rows(), view.ns_cols(), param.entry.recipe.schedule, h.precision,
                     ws.newton_schulz);
  cpu::apply_update(view, spec.param, spec.dtype, u, update_coefficients(h, spec.rows, spec.cols));
}

// Calls work(i, workspace) for i in [0, count) on up to workspaces.size() threads, which take
// the next index from a shared counter. Each index is run exactly once, by one thread, with
// that thread's workspace. An exception is kept per index; the first in index order is rethrown
// after all threads joined.
template <typename Work>
void parallel_for(size_t count, std::vector<Workspace>& workspaces, Work&& work) {
  const size_t threads = std::min(workspaces.size(), count);
  if (threads <= 1) {
    for (size_t i = 0; i < count; ++i) work(i, workspaces[0]);
    return;
  }
  std::atomic<size_t> next{0};
  std::vector<std::exception_ptr> errors(count);
  const auto run = [&](Workspace& ws) {
    for (size_t i = next++; i < count; i = next++) {
      try {
        work(i, ws);
      } catch (...) {
        errors[i] = std::current_exception();
      }
    }
  };
  std::vector<std::thread> pool;
  for (size_t t = 1; t < threads; ++t) pool.emplace_back(run, std::ref(workspaces[t]));
  run(workspaces[0]);
  for (std::thread& thread : pool) thread.join();
  for (const std::exception_ptr& error : errors) {
    if (error) std::rethrow_exception(error);
  }
}

class CpuBackend final : public Backend {
 public:
  explicit CpuBackend(int64_t threads) {
    ROOTOPT_ASSERT(threads >= 1, "CPU backend needs at least one thread, got ", threads);
    workspaces_.resize(size_t(threads));
  }

  void add(int64_t id, const ParamEntry& entry) override {
    ROOTOPT_ASSERT(id == static_cast<int64_t>(params_.size()), "parameter ids must be dense, got ",
                   id, " after ", params_.size(), " parameters");
    ROOTOPT_CHECK(entry.recipe.normalization == Normalization::frobenius &&
                      entry.recipe.form == IterationForm::standard && entry.recipe.tail_steps == 0,
                  "parameter '", entry.spec.name, "': the CPU backend does not run the recipe '",
                  entry.recipe.describe(), "' yet");
    // Workspace first: if an allocation fails, nothing is registered.
    for (Workspace& ws : workspaces_) ws.reserve(entry.spec);
    auto param = std::make_unique<CpuParam>();
    param->entry = entry;
    bind_momentum(*param, entry.spec.momentum);
    params_.push_back(std::move(param));
  }

  void rebind(int64_t id, const ParamSpec& spec) override {
    CpuParam& param = *params_.at(size_t(id));
    param.entry.spec.param = spec.param;
    param.entry.spec.grad = spec.grad;
    if (spec.momentum != nullptr) {
      param.entry.spec.momentum = spec.momentum;
      bind_momentum(param, spec.momentum);
    }
  }

  // Two phases, each spread over the threads: the finiteness check per parameter (nothing is
  // written), then steps 1-5 per matrix of every finite parameter (a batch of experts is
  // spread too). Every matrix writes only its own momentum and weights.
  void step(const Hyperparams& hyperparams, void* /*stream*/) override {
    stepped_.assign(params_.size(), 0);
    parallel_for(params_.size(), workspaces_, [&](size_t id, Workspace&) {
      stepped_[id] = param_is_finite(*params_[id], hyperparams);
    });
    matrices_.clear();
    for (size_t id = 0; id < params_.size(); ++id) {
      if (!stepped_[id]) continue;
      for (int64_t b = 0; b < params_[id]->entry.spec.batch; ++b) matrices_.emplace_back(id, b);
    }
    parallel_for(matrices_.size(), workspaces_, [&](size_t i, Workspace& ws) {
      step_matrix(*params_[matrices_[i].first], matrices_[i].second, hyperparams, ws);
    });
    skipped_.clear();
    for (size_t id = 0; id < params_.size(); ++id) {
      if (!stepped_[id]) skipped_.push_back(int64_t(id));
    }
  }

  std::vector<int64_t> skipped_last_step() const override { return skipped_; }

  std::vector<float> read_momentum(int64_t id) const override {
    const CpuParam& param = *params_.at(size_t(id));
    return {param.momentum, param.momentum + element_count(param.entry.spec)};
  }

  void write_momentum(int64_t id, const std::vector<float>& values) override {
    CpuParam& param = *params_.at(size_t(id));
    ROOTOPT_CHECK(int64_t(values.size()) == element_count(param.entry.spec), "momentum of '",
                  param.entry.spec.name, "' needs ", element_count(param.entry.spec),
                  " values, got ", values.size());
    std::copy(values.begin(), values.end(), param.momentum);
  }

 private:
  static void bind_momentum(CpuParam& param, float* caller_buffer) {
    if (caller_buffer != nullptr) {
      param.owned_momentum.clear();
      param.owned_momentum.shrink_to_fit();
      param.momentum = caller_buffer;
    } else {
      param.owned_momentum.assign(size_t(element_count(param.entry.spec)), 0.0f);
      param.momentum = param.owned_momentum.data();
    }
  }

  std::vector<std::unique_ptr<CpuParam>> params_;
  std::vector<Workspace> workspaces_;  // one per thread
  std::vector<char> stepped_;          // per parameter: 1 updated, 0 skipped (last step)
  std::vector<std::pair<size_t, int64_t>> matrices_;  // (parameter, batch index) to step
  std::vector<int64_t> skipped_;
};

}  // namespace

std::unique_ptr<Backend> make_cpu_backend(int64_t threads) {
  return std::make_unique<CpuBackend>(threads);
}

}  // namespace rootopt::detail
