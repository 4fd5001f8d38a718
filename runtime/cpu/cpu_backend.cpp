// The CPU backend: the five ROOT steps per matrix, in fp32 with Eigen GEMMs, one parameter after
// the other (so results do not depend on thread scheduling: the step is deterministic).
#include <algorithm>
#include <memory>
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

class CpuBackend final : public Backend {
 public:
  void add(int64_t id, const ParamEntry& entry) override {
    ROOTOPT_CHECK(id == static_cast<int64_t>(params_.size()), "parameter ids must be dense, got ",
                  id, " after ", params_.size(), " parameters");
    const ParamSpec& spec = entry.spec;
    const int64_t matrix = spec.rows * spec.cols;
    // Workspace first: if an allocation fails, nothing is registered.
    if (static_cast<int64_t>(direction_.size()) < matrix) direction_.resize(size_t(matrix));
    if (static_cast<int64_t>(scratch_.size()) < matrix) scratch_.resize(size_t(matrix));
    newton_schulz_.reserve(std::min(spec.rows, spec.cols), std::max(spec.rows, spec.cols));
    auto param = std::make_unique<CpuParam>();
    param->entry = entry;
    bind_momentum(*param, spec.momentum);
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

  void step(const Hyperparams& hyperparams, void* /*stream*/) override {
    skipped_.clear();
    for (size_t id = 0; id < params_.size(); ++id) {
      if (!step_param(*params_[id], hyperparams)) skipped_.push_back(int64_t(id));
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
  static int64_t element_count(const ParamSpec& spec) { return spec.batch * spec.rows * spec.cols; }

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

  // The five steps for every matrix of one parameter; false (nothing written) when the new
  // momentum or direction would not be finite.
  bool step_param(CpuParam& param, const Hyperparams& h) {
    const ParamSpec& spec = param.entry.spec;
    if (!cpu::momentum_step_is_finite(spec.grad, spec.dtype, param.momentum, element_count(spec),
                                      h.momentum, h.nesterov)) {
      return false;
    }
    const UpdateCoefficients coefficients = update_coefficients(h, spec.rows, spec.cols);
    for (int64_t b = 0; b < spec.batch; ++b) {
      const cpu::MatrixView view{b * spec.rows * spec.cols, spec.rows, spec.cols};
      float* u = direction_.data();
      cpu::apply_momentum_step(view, spec.grad, spec.dtype, param.momentum, h.momentum, h.nesterov,
                               u);
      const float eps = cpu::threshold_epsilon(u, view.size(), h, scratch_.data());
      cpu::clamp_in_place(u, view.size(), eps);
      cpu::normalize_frobenius(u, view.size());
      cpu::newton_schulz(u, view.ns_rows(), view.ns_cols(), param.entry.schedule, h.precision,
                         newton_schulz_);
      cpu::apply_update(view, spec.param, spec.dtype, u, coefficients);
    }
    return true;
  }

  std::vector<std::unique_ptr<CpuParam>> params_;
  std::vector<int64_t> skipped_;
  // Shared by all parameters (processed one at a time), sized for the largest.
  std::vector<float> direction_;
  std::vector<float> scratch_;
  cpu::NewtonSchulzWorkspace newton_schulz_;
};

}  // namespace

std::unique_ptr<Backend> make_cpu_backend() { return std::make_unique<CpuBackend>(); }

}  // namespace rootopt::detail
