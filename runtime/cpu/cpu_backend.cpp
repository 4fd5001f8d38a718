// The CPU backend: the five ROOT steps per matrix, in fp32 with Eigen GEMMs; Newton-Schulz is
// core's recipe arithmetic (newton_schulz.h), the same code as the matrix-level emulation.
// Matrices may be stepped in parallel, each by one thread with that thread's workspace: a
// matrix's arithmetic is the same whichever thread runs it, so the step is deterministic for any
// thread count.
#include <algorithm>
#include <memory>
#include <utility>
#include <vector>

#include "backend.h"
#include "check.h"
#include "matrix_view.h"
#include "momentum.h"
#include "newton_schulz.h"
#include "parallel.h"
#include "soft_threshold.h"
#include "update.h"
#include "validation.h"

namespace rootopt::detail {
namespace {

struct CpuParam {
  ParamEntry entry;
  std::vector<float> owned_momentum;  // used when the caller passed no momentum buffer
  float* momentum = nullptr;
  // batch > 1: each matrix's X_K (Newton-Schulz orientation) and whether its new weights are
  // finite, kept until every matrix of the parameter is known to be finite, because nothing of a
  // skipped parameter may be written. A single matrix decides and writes within its own task.
  std::vector<float> staged_update;
  std::vector<char> matrix_finite;
};

// What one thread needs to step any registered parameter, sized for the largest and for every
// registered recipe at every runtime working precision.
struct Workspace {
  std::vector<float> direction;  // U, then B, X0 ... X_K, in the Newton-Schulz orientation
  std::vector<float> scratch;    // |U| for the quantile selection
  cpu::NewtonSchulzWorkspace newton_schulz;

  void reserve(const ParamEntry& entry) {
    const ParamSpec& spec = entry.spec;
    const auto matrix = static_cast<size_t>(spec.rows * spec.cols);
    if (direction.size() < matrix) direction.resize(matrix);
    if (scratch.size() < matrix) scratch.resize(matrix);
    for (const Precision working : kRuntimePrecisions)
      newton_schulz.reserve(std::min(spec.rows, spec.cols), std::max(spec.rows, spec.cols),
                            entry.recipe, working);
  }
};

int64_t element_count(const ParamSpec& spec) { return spec.batch * spec.rows * spec.cols; }

cpu::MatrixView matrix_view(const ParamSpec& spec, int64_t b) {
  return {b * spec.rows * spec.cols, spec.rows, spec.cols};
}

// Step 0: whether the new momentum and direction of the whole parameter are finite.
bool param_is_finite(const CpuParam& param, const Hyperparams& h) {
  const ParamSpec& spec = param.entry.spec;
  return cpu::momentum_step_is_finite(spec.grad, spec.dtype, param.momentum, element_count(spec),
                                      h.momentum, h.nesterov);
}

// Steps 1-4 for matrix `b` of a parameter, writing nothing of the parameter: X_K into
// ws.direction. Returns whether the new weights it gives are finite.
bool compute_update(const CpuParam& param, int64_t b, const Hyperparams& h, Workspace& ws) {
  const ParamSpec& spec = param.entry.spec;
  const cpu::MatrixView view = matrix_view(spec, b);
  float* u = ws.direction.data();
  cpu::momentum_direction(view, spec.grad, spec.dtype, param.momentum, h.momentum, h.nesterov, u);
  const float eps = cpu::threshold_epsilon(u, view.size(), h, ws.scratch.data());
  cpu::clamp_in_place(u, view.size(), eps);
  cpu::newton_schulz_recipe(u, view.ns_rows(), view.ns_cols(), param.entry.recipe, h.precision,
                            ws.newton_schulz);
  return cpu::update_is_finite(view, spec.param, spec.dtype, u,
                               update_coefficients(h, spec.rows, spec.cols));
}

// Writes matrix `b`'s new momentum and step 5's update from its X_K.
void write_matrix(CpuParam& param, int64_t b, const Hyperparams& h, const float* x) {
  const ParamSpec& spec = param.entry.spec;
  const cpu::MatrixView view = matrix_view(spec, b);
  cpu::write_momentum_step(view, spec.grad, spec.dtype, param.momentum, h.momentum);
  cpu::apply_update(view, spec.param, spec.dtype, x, update_coefficients(h, spec.rows, spec.cols));
}

// Calls work(i, workspace) for i in [0, count) on rootopt's worker pool (core/parallel.h), up to
// one thread per workspace; each index runs once, with the workspace of the thread running it.
template <typename Work>
void for_each_index(size_t count, std::vector<Workspace>& workspaces, Work&& work) {
  detail::parallel_for(int64_t(count), int64_t(workspaces.size()), [&](int64_t i, int64_t worker) {
    work(size_t(i), workspaces[size_t(worker)]);
  });
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
    entry.recipe.validate("parameter '" + entry.spec.name + "'");
    // Workspace first: if an allocation fails, nothing is registered.
    for (Workspace& ws : workspaces_) ws.reserve(entry);
    auto param = std::make_unique<CpuParam>();
    param->entry = entry;
    if (entry.spec.batch > 1) {
      param->staged_update.resize(size_t(element_count(entry.spec)));
      param->matrix_finite.resize(size_t(entry.spec.batch));
    }
    bind_momentum(*param, entry.spec.momentum);
    // The per-step lists too, so that step() never allocates.
    matrices_.reserve(size_t(matrix_count_ + entry.spec.batch));
    stepped_.reserve(params_.size() + 1);
    skipped_.reserve(params_.size() + 1);
    params_.push_back(std::move(param));
    matrix_count_ += entry.spec.batch;
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

  // Phases, each spread over the threads; nothing of a parameter is written until its whole
  // update is known to be finite:
  //   1. per parameter: are the new momentum and direction finite (reads only);
  //   2. per matrix of every parameter that passed: X_K and whether its new weights are finite.
  //      A single matrix then writes its momentum and weights at once (or marks the parameter
  //      skipped); the matrices of a batch stage X_K;
  //   3. per matrix of every batch whose matrices all passed: write momentum and weights.
  // Every matrix writes only its own momentum, weights and staging.
  void step(const Hyperparams& hyperparams, void* /*stream*/) override {
    stepped_.assign(params_.size(), 0);
    for_each_index(params_.size(), workspaces_, [&](size_t id, Workspace&) {
      stepped_[id] = param_is_finite(*params_[id], hyperparams);
    });
    collect_matrices([&](size_t id) { return stepped_[id] != 0; });
    for_each_index(matrices_.size(), workspaces_, [&](size_t i, Workspace& ws) {
      const auto [id, b] = matrices_[i];
      CpuParam& param = *params_[id];
      const bool finite = compute_update(param, b, hyperparams, ws);
      if (param.entry.spec.batch == 1) {
        if (finite) write_matrix(param, b, hyperparams, ws.direction.data());
        stepped_[id] = finite;
        return;
      }
      const int64_t size = param.entry.spec.rows * param.entry.spec.cols;
      param.matrix_finite[size_t(b)] = finite;
      std::copy(ws.direction.begin(), ws.direction.begin() + size,
                param.staged_update.begin() + b * size);
    });
    for (size_t id = 0; id < params_.size(); ++id) {
      const CpuParam& param = *params_[id];
      if (stepped_[id] && param.entry.spec.batch > 1)
        stepped_[id] = std::all_of(param.matrix_finite.begin(), param.matrix_finite.end(),
                                   [](char finite) { return finite != 0; });
    }
    collect_matrices(
        [&](size_t id) { return stepped_[id] != 0 && params_[id]->entry.spec.batch > 1; });
    for_each_index(matrices_.size(), workspaces_, [&](size_t i, Workspace&) {
      const auto [id, b] = matrices_[i];
      CpuParam& param = *params_[id];
      const int64_t size = param.entry.spec.rows * param.entry.spec.cols;
      write_matrix(param, b, hyperparams, param.staged_update.data() + b * size);
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

  // matrices_ = (parameter, batch index) of every matrix of the parameters `selected` accepts.
  template <typename Select>
  void collect_matrices(Select&& selected) {
    matrices_.clear();
    for (size_t id = 0; id < params_.size(); ++id) {
      if (!selected(id)) continue;
      for (int64_t b = 0; b < params_[id]->entry.spec.batch; ++b) matrices_.emplace_back(id, b);
    }
  }

  std::vector<std::unique_ptr<CpuParam>> params_;
  std::vector<Workspace> workspaces_;  // one per thread
  std::vector<char> stepped_;          // per parameter: 1 updated, 0 skipped (last step)
  std::vector<std::pair<size_t, int64_t>> matrices_;  // (parameter, batch index) to step
  int64_t matrix_count_ = 0;                          // matrices of all registered parameters
  std::vector<int64_t> skipped_;
};

}  // namespace

std::unique_ptr<Backend> make_cpu_backend(int64_t threads) {
  return std::make_unique<CpuBackend>(threads);
}

}  // namespace rootopt::detail
