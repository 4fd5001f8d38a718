// The CPU backend: the five ROOT steps per matrix, in fp32 with Eigen GEMMs. Parameters may be
// stepped in parallel, one parameter per thread at a time, each thread with its own workspace:
// a parameter's arithmetic is the same whichever thread runs it, so the step is deterministic.
#include <algorithm>
#include <atomic>
#include <exception>
#include <memory>
#include <thread>
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

// The five steps for every matrix of one parameter; false (nothing written) when the new
// momentum or direction would not be finite.
bool step_param(CpuParam& param, const Hyperparams& h, Workspace& ws) {
  const ParamSpec& spec = param.entry.spec;
  if (!cpu::momentum_step_is_finite(spec.grad, spec.dtype, param.momentum, element_count(spec),
                                    h.momentum, h.nesterov)) {
    return false;
  }
  const UpdateCoefficients coefficients = update_coefficients(h, spec.rows, spec.cols);
  for (int64_t b = 0; b < spec.batch; ++b) {
    const cpu::MatrixView view{b * spec.rows * spec.cols, spec.rows, spec.cols};
    float* u = ws.direction.data();
    cpu::apply_momentum_step(view, spec.grad, spec.dtype, param.momentum, h.momentum, h.nesterov,
                             u);
    const float eps = cpu::threshold_epsilon(u, view.size(), h, ws.scratch.data());
    cpu::clamp_in_place(u, view.size(), eps);
    cpu::normalize_frobenius(u, view.size());
    cpu::newton_schulz(u, view.ns_rows(), view.ns_cols(), param.entry.schedule, h.precision,
                       ws.newton_schulz);
    cpu::apply_update(view, spec.param, spec.dtype, u, coefficients);
  }
  return true;
}

class CpuBackend final : public Backend {
 public:
  explicit CpuBackend(int64_t threads) : workspaces_(size_t(threads)) {
    ROOTOPT_CHECK(threads >= 1, "CPU backend needs at least one thread, got ", threads);
  }

  void add(int64_t id, const ParamEntry& entry) override {
    ROOTOPT_CHECK(id == static_cast<int64_t>(params_.size()), "parameter ids must be dense, got ",
                  id, " after ", params_.size(), " parameters");
    // Workspace first: if an allocation fails, nothing is registered.
    for (Workspace& ws : workspaces_) ws.reserve(entry.spec);
    auto param = std::make_unique<CpuParam>();
    param->entry = entry;
    bind_momentum(*param, entry.spec.momentum);
    params_.push_back(std::move(param));
    stepped_.reserve(params_.size());
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

  void step(const Hyperparams& hyperparams, void* /*stream*/) override {
    stepped_.assign(params_.size(), 0);
    const size_t threads = std::min(workspaces_.size(), params_.size());
    if (threads <= 1) {
      for (size_t id = 0; id < params_.size(); ++id) {
        stepped_[id] = step_param(*params_[id], hyperparams, workspaces_[0]);
      }
    } else {
      step_in_parallel(hyperparams, threads);
    }
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

  // Threads take the next parameter from a shared counter. An exception is kept per parameter
  // and the first one in parameter order is rethrown after all threads joined.
  void step_in_parallel(const Hyperparams& hyperparams, size_t threads) {
    std::atomic<size_t> next{0};
    std::vector<std::exception_ptr> errors(params_.size());
    const auto work = [&](Workspace& ws) {
      for (size_t id = next++; id < params_.size(); id = next++) {
        try {
          stepped_[id] = step_param(*params_[id], hyperparams, ws);
        } catch (...) {
          errors[id] = std::current_exception();
        }
      }
    };
    std::vector<std::thread> pool;
    for (size_t t = 1; t < threads; ++t) pool.emplace_back(work, std::ref(workspaces_[t]));
    work(workspaces_[0]);
    for (std::thread& thread : pool) thread.join();
    for (const std::exception_ptr& error : errors) {
      if (error) std::rethrow_exception(error);
    }
  }

  std::vector<std::unique_ptr<CpuParam>> params_;
  std::vector<Workspace> workspaces_;  // one per thread
  std::vector<char> stepped_;          // per parameter: 1 updated, 0 skipped (last step)
  std::vector<int64_t> skipped_;
};

}  // namespace

std::unique_ptr<Backend> make_cpu_backend(int64_t threads) {
  return std::make_unique<CpuBackend>(threads);
}

}  // namespace rootopt::detail
