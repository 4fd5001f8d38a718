// The CUDA backend: the ROOT step (see rootopt/optimizer.h) for every registered parameter, with
// same-shape matrices batched. Per group of matrices with equal (rows, cols, dtype, recipe):
//   momentum_stats (U, non-finite flag, 1st radix digit) -> radix select (2 passes) or fixed eps
//   -> clamp + sum of squares -> normalise to X0 -> the recipe's strided-batched cuBLASLt GEMMs and
//   elementwise kernels (newton_schulz_plan.h) -> update check (non-finite new weights flag the
//   parameter) -> final update (momentum, weight decay, scaled X_K; skipped on device for flagged
//   parameters).
// All device memory is allocated in add(); step() only enqueues work on the caller's stream (no
// allocation, no host synchronisation), so it can also be captured in a CUDA graph, except the
// first step after add() or rebind(), which uploads the changed slots from pageable host memory
// (docs/cuda-backend.md, "Streams and synchronisation").
#include <cuda_runtime.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <memory>
#include <string>
#include <vector>

#include "backend.h"
#include "check.h"
#include "cuda_check.h"
#include "cuda_device_buffer.h"
#include "group_view.h"
#include "newton_schulz_plan.h"
#include "step_kernels.h"
#include "update_coefficients.h"

namespace rootopt::detail {
namespace {

using cuda::DeviceBuffer;

constexpr size_t kLtWorkspaceBytes = size_t(32) << 20;  // cuBLASLt's recommendation for Hopper

int64_t element_count(const ParamSpec& spec) { return spec.batch * spec.rows * spec.cols; }
size_t dtype_bytes(DType dtype) { return dtype == DType::fp32 ? 4 : 2; }

bool same_recipe(const Recipe& x, const Recipe& y) {
  if (x.steps() != y.steps() || x.normalization != y.normalization || x.form != y.form ||
      x.restarts != y.restarts || x.tail_steps != y.tail_steps ||
      (x.tail_steps > 0 && x.tail_precision != y.tail_precision))
    return false;
  for (int64_t k = 0; k < x.steps(); ++k) {
    const QuinticStep &p = x.schedule[k], &q = y.schedule[k];
    if (p.a != q.a || p.b != q.b || p.c != q.c) return false;
  }
  return true;
}

// The two order statistics and the weight of torch.quantile's linear interpolation, computed
// exactly as abs_quantile (runtime/cpu/soft_threshold.cpp) does.
cuda::QuantilePosition quantile_position(int64_t count, float q) {
  const double position = double(q) * static_cast<double>(count - 1);
  const auto lo = static_cast<int64_t>(std::floor(position));
  const double fraction = position - static_cast<double>(lo);
  const int64_t hi = (fraction > 0 && lo + 1 < count) ? lo + 1 : lo;
  return {static_cast<uint32_t>(lo), static_cast<uint32_t>(hi), fraction};
}

struct CudaParam {
  ParamEntry entry;
  DeviceBuffer owned_momentum;  // when the caller passed none
  float* momentum = nullptr;
  size_t group = 0;
  int64_t first_slot = 0;  // its matrices are slots [first_slot, first_slot + batch) of the group
};

// Matrices of equal shape, dtype and recipe, with their shared workspace (see step_kernels.h and
// newton_schulz_plan.h).
struct Group {
  int64_t rows = 0, cols = 0;
  DType dtype = DType::fp32;
  Recipe recipe;
  std::vector<cuda::MatrixSlot> slots;   // the host copy; the device copy is uploaded by step()
  int64_t dirty_from = 0, dirty_to = 0;  // slots [from, to) changed since the last upload
  DeviceBuffer device_slots, x, x_other, x_rounded, gram, poly, rounded, h, q, q_other, hist, state,
      partial;
  std::unique_ptr<cuda::NewtonSchulzPlan> plan_bf16, plan_fp32;

  void mark_dirty(int64_t from, int64_t to) {
    dirty_from = dirty_from == dirty_to ? from : std::min(dirty_from, from);
    dirty_to = std::max(dirty_to, to);
  }
  int64_t elements() const { return rows * cols; }
  int64_t count() const { return static_cast<int64_t>(slots.size()); }
  cuda::GroupView view() const {
    return {device_slots.as<cuda::MatrixSlot>(), count(), elements(), dtype, vectorized()};
  }
  // Whether every matrix can be read and written in aligned 4-element vectors (the workspace
  // always can when elements % 4 == 0; the caller's pointers are checked).
  bool vectorized() const {
    const auto aligned = [](const void* p, size_t bytes) {
      return reinterpret_cast<uintptr_t>(p) % bytes == 0;
    };
    const size_t quad = 4 * dtype_bytes(dtype);
    if (elements() % 4 != 0) return false;
    for (const cuda::MatrixSlot& s : slots)
      if (!aligned(s.grad, quad) || !aligned(s.param, quad) || !aligned(s.momentum, 16))
        return false;
    return true;
  }
  std::vector<std::string> params;  // names of its parameters, for error messages
  std::string name() const {
    const std::string more =
        params.size() > 1 ? concat(" and ", params.size() - 1, " more") : std::string();
    return concat(count(), " matrices of ", rows, "x", cols,
                  dtype == DType::bf16 ? " bf16" : " fp32", " (parameter '",
                  params.empty() ? std::string() : params.front(), "'", more, ")");
  }
};

class CudaBackend final : public Backend {
 public:
  CudaBackend() : workspace_(kLtWorkspaceBytes, "the cuBLASLt workspace") {}

  void add(int64_t id, const ParamEntry& entry) override {
    ROOTOPT_ASSERT(id == static_cast<int64_t>(params_.size()), "parameter ids must be dense, got ",
                   id, " after ", params_.size(), " parameters");
    const ParamSpec& spec = entry.spec;
    ROOTOPT_CHECK(spec.rows > 0 && spec.cols > 0 && spec.batch > 0, "parameter '", spec.name,
                  "': non-positive size ", spec.batch, " x ", spec.rows, "x", spec.cols);
    ROOTOPT_CHECK(spec.rows * spec.cols < (int64_t(1) << 32), "parameter '", spec.name,
                  "': matrices above 2^32 elements are not supported by the CUDA backend");
    auto param = std::make_unique<CudaParam>();
    param->entry = entry;
    if (spec.momentum == nullptr) {
      param->owned_momentum = DeviceBuffer(sizeof(float) * element_count(spec),
                                           concat("the momentum of '", spec.name, "'"));
      ROOTOPT_CUDA_CHECK(cudaMemset(param->owned_momentum.get(), 0, param->owned_momentum.bytes()),
                         "zeroing the momentum of '", spec.name, "'");
      param->momentum = param->owned_momentum.as<float>();
    } else {
      param->momentum = spec.momentum;
    }
    DeviceBuffer flags(sizeof(int32_t) * (params_.size() + 1), "the non-finite flags");
    ROOTOPT_CUDA_CHECK(cudaMemset(flags.get(), 0, flags.bytes()), "zeroing the non-finite flags");
    // cudaMemset runs on the legacy default stream, which a caller's non-blocking stream does
    // not wait for: finish the zeroing here, at registration.
    ROOTOPT_CUDA_CHECK(cudaStreamSynchronize(cudaStreamLegacy), "zeroing the momentum of '",
                       spec.name, "'");
    Group& group = group_for(*param);
    param->first_slot = group.count();
    group.params.push_back(spec.name);
    for (int64_t b = 0; b < spec.batch; ++b) group.slots.push_back(slot(*param, id, b));
    const auto restore = [&] {  // registration failed: the group as it was
      group.slots.resize(size_t(param->first_slot));
      group.params.pop_back();
      if (group.slots.empty())
        groups_.pop_back();
      else
        reallocate(group);
    };
    try {
      reallocate(group);
    } catch (const Error& e) {  // e.g. no cuBLASLt algorithm for a GEMM: name the parameter
      restore();
      throw Error(concat(e.what(), " [registering parameter '", spec.name, "']"));
    } catch (...) {
      restore();
      throw;
    }
    flags_ = std::move(flags);
    params_.push_back(std::move(param));
  }

  void rebind(int64_t id, const ParamSpec& spec) override {
    CudaParam& param = *params_.at(size_t(id));
    param.entry.spec.param = spec.param;
    param.entry.spec.grad = spec.grad;
    if (spec.momentum != nullptr) {
      param.entry.spec.momentum = spec.momentum;
      param.momentum = spec.momentum;
      param.owned_momentum = DeviceBuffer();
    }
    // The device copy is uploaded by the next step(), on that step's stream: a step still running
    // on the caller's stream keeps reading the old slots, the next one reads the new.
    Group& group = groups_[param.group];
    for (int64_t b = 0; b < param.entry.spec.batch; ++b)
      group.slots[size_t(param.first_slot + b)] = slot(param, id, b);
    group.mark_dirty(param.first_slot, param.first_slot + param.entry.spec.batch);
  }

  void step(const Hyperparams& h, void* stream_ptr) override {
    ROOTOPT_CHECK(h.precision == Precision::bf16 || h.precision == Precision::fp32,
                  "the CUDA backend runs Newton-Schulz in bf16 or fp32, not ",
                  to_string(h.precision));
    const auto stream = static_cast<cudaStream_t>(stream_ptr);
    last_stream_ = stream;
    if (params_.empty()) return;
    ROOTOPT_CUDA_CHECK(cudaMemsetAsync(flags_.get(), 0, flags_.bytes(), stream),
                       "clearing the non-finite flags");
    for (Group& group : groups_) upload_slots(group, stream);
    for (Group& group : groups_) {
      try {
        step_group(group, h, stream);
      } catch (const Error& e) {  // say which parameters the failing call was working on
        throw Error(concat(e.what(), " [in the step of ", group.name(), "]"));
      }
    }
  }

  std::vector<int64_t> skipped_last_step() const override {
    std::vector<int32_t> flags(params_.size());
    if (!flags.empty()) {
      ROOTOPT_CUDA_CHECK(cudaMemcpyAsync(flags.data(), flags_.get(), sizeof(int32_t) * flags.size(),
                                         cudaMemcpyDeviceToHost, last_stream_),
                         "reading the non-finite flags");
      ROOTOPT_CUDA_CHECK(cudaStreamSynchronize(last_stream_), "waiting for the last step");
    }
    std::vector<int64_t> skipped;
    for (size_t id = 0; id < flags.size(); ++id)
      if (flags[id]) skipped.push_back(int64_t(id));
    return skipped;
  }

  std::vector<float> read_momentum(int64_t id) const override {
    const CudaParam& param = *params_.at(size_t(id));
    std::vector<float> values(size_t(element_count(param.entry.spec)));
    // On the stream of the last step, so the copy follows it even on a non-blocking stream.
    ROOTOPT_CUDA_CHECK(cudaMemcpyAsync(values.data(), param.momentum, sizeof(float) * values.size(),
                                       cudaMemcpyDeviceToHost, last_stream_),
                       "reading the momentum of '", param.entry.spec.name, "'");
    ROOTOPT_CUDA_CHECK(cudaStreamSynchronize(last_stream_), "waiting for the last step");
    return values;
  }

  void write_momentum(int64_t id, const std::vector<float>& values) override {
    CudaParam& param = *params_.at(size_t(id));
    ROOTOPT_CHECK(int64_t(values.size()) == element_count(param.entry.spec), "momentum of '",
                  param.entry.spec.name, "' needs ", element_count(param.entry.spec),
                  " values, got ", values.size());
    // Ordered after the last step on its stream; complete before returning (`values` is the
    // caller's).
    ROOTOPT_CUDA_CHECK(cudaMemcpyAsync(param.momentum, values.data(), sizeof(float) * values.size(),
                                       cudaMemcpyHostToDevice, last_stream_),
                       "writing the momentum of '", param.entry.spec.name, "'");
    ROOTOPT_CUDA_CHECK(cudaStreamSynchronize(last_stream_), "waiting for the momentum write");
  }

 private:
  void step_group(Group& group, const Hyperparams& h, cudaStream_t stream) {
    const bool quantile = h.threshold == ThresholdMode::quantile;
    const cuda::MomentumArgs momentum{h.momentum, h.nesterov};
    const cuda::GroupView view = group.view();
    auto* u = group.x_other.as<float>();  // U lives in the ping-pong buffer until X0 is made
    auto* state = group.state.as<cuda::ThresholdState>();
    if (quantile)
      ROOTOPT_CUDA_CHECK(cudaMemsetAsync(group.hist.get(), 0, group.hist.bytes(), stream),
                         "clearing the histograms");
    cuda::launch_momentum_stats(view, momentum, u, group.hist.as<uint32_t>(), quantile,
                                flags_.as<int32_t>(), stream);
    if (quantile)
      cuda::launch_radix_select(view, u, group.hist.as<uint32_t>(),
                                quantile_position(group.elements(), h.threshold_quantile), state,
                                stream);
    else
      cuda::launch_set_threshold(group.count(),
                                 h.threshold == ThresholdMode::fixed
                                     ? h.threshold_value
                                     : std::numeric_limits<float>::infinity(),
                                 state, stream);
    const cuda::NewtonSchulzPlan& plan =
        h.precision == Precision::bf16 ? *group.plan_bf16 : *group.plan_fp32;
    cuda::launch_clamp_normalize(view, u, state, group.partial.as<double>(), plan.input_storage(),
                                 group.x.get(), stream);
    const cuda::PlanResult x_final = plan.run({group.x.get(),
                                               group.x_other.get(),
                                               group.x_rounded.get(),
                                               group.gram.get(),
                                               group.poly.get(),
                                               group.rounded.get(),
                                               group.h.get(),
                                               group.q.get(),
                                               group.q_other.get(),
                                               group.partial.as<double>(),
                                               {workspace_.get(), workspace_.bytes()}},
                                              stream);
    const UpdateCoefficients c = update_coefficients(h, group.rows, group.cols);
    const cuda::UpdateArgs update{momentum, c.decay, c.step};
    cuda::launch_check_update(view, update, x_final.x, x_final.storage, flags_.as<int32_t>(),
                              stream);
    cuda::launch_final_update(view, update, x_final.x, x_final.storage, flags_.as<int32_t>(),
                              stream);
  }

  static cuda::MatrixSlot slot(const CudaParam& param, int64_t id, int64_t b) {
    const ParamSpec& spec = param.entry.spec;
    const int64_t offset = b * spec.rows * spec.cols;
    const size_t bytes = dtype_bytes(spec.dtype) * size_t(offset);
    return {static_cast<const char*>(spec.grad) + bytes, static_cast<char*>(spec.param) + bytes,
            param.momentum + offset, id};
  }

  Group& group_for(CudaParam& param) {
    const ParamSpec& spec = param.entry.spec;
    for (size_t g = 0; g < groups_.size(); ++g) {
      Group& group = groups_[g];
      if (group.rows == spec.rows && group.cols == spec.cols && group.dtype == spec.dtype &&
          same_recipe(group.recipe, param.entry.recipe)) {
        param.group = g;
        return group;
      }
    }
    param.group = groups_.size();
    Group& group = groups_.emplace_back();
    group.rows = spec.rows;
    group.cols = spec.cols;
    group.dtype = spec.dtype;
    group.recipe = param.entry.recipe;
    return group;
  }

  // (Re)allocates a group's workspace for its current number of matrices and re-plans its GEMMs
  // (batch count is part of the plan). Only registration calls this.
  void reallocate(Group& group) {
    const int64_t count = group.count(), small = std::min(group.rows, group.cols);
    ROOTOPT_CHECK(count <= 65535, "more than 65535 matrices of ", group.rows, "x", group.cols,
                  " (CUDA grid limit)");
    const std::string what = group.name();
    // Free first so that a grown group can reuse the memory.
    for (DeviceBuffer* buffer : {&group.x, &group.x_other, &group.x_rounded, &group.gram,
                                 &group.poly, &group.rounded, &group.h, &group.q, &group.q_other})
      *buffer = DeviceBuffer();
    // The working precision may change between steps: plan both, allocate what either needs.
    // Every buffer is fp32-sized (a step may store bf16 or fp32; x_other also holds fp32 U).
    const cuda::PlanNeeds bf16 = cuda::plan_needs(group.recipe, Precision::bf16),
                          fp32 = cuda::plan_needs(group.recipe, Precision::fp32);
    const bool gram_form = bf16.gram_form || fp32.gram_form, tf32 = bf16.tf32 || fp32.tf32;
    const size_t big = sizeof(float) * count * group.elements();
    const size_t square = sizeof(float) * count * small * small;
    group.x = DeviceBuffer(big, "X of " + what);
    group.x_other = DeviceBuffer(big, "U / X' of " + what);
    if (tf32 && !gram_form) group.x_rounded = DeviceBuffer(big, "TF32 X of " + what);
    group.gram = DeviceBuffer(square, "A of " + what);
    group.poly = DeviceBuffer(square, "P of " + what);
    if (tf32) group.rounded = DeviceBuffer(square, "TF32 A of " + what);
    if (gram_form) {
      group.h = DeviceBuffer(square, "H of " + what);
      group.q = DeviceBuffer(square, "Q of " + what);
      group.q_other = DeviceBuffer(square, "Q' of " + what);
    }
    group.hist = DeviceBuffer(sizeof(uint32_t) * count * cuda::kRadixPasses * 2 * cuda::kRadixBins,
                              "histograms of " + what);
    group.state = DeviceBuffer(sizeof(cuda::ThresholdState) * count, "thresholds of " + what);
    group.partial = DeviceBuffer(sizeof(double) * count * cuda::kMaxBlocksPerMatrix,
                                 "norm partial sums of " + what);
    group.device_slots = DeviceBuffer(sizeof(cuda::MatrixSlot) * count, "slots of " + what);
    group.dirty_from = 0;  // a new device copy: all of it
    group.dirty_to = count;
    const cuda::PlanShape shape{group.rows, group.cols, count};
    group.plan_bf16 = std::make_unique<cuda::NewtonSchulzPlan>(lt_, shape, group.recipe,
                                                               Precision::bf16, workspace_.bytes());
    group.plan_fp32 = std::make_unique<cuda::NewtonSchulzPlan>(lt_, shape, group.recipe,
                                                               Precision::fp32, workspace_.bytes());
  }

  // Uploads the slots changed since the last upload, on the step's stream (from pageable host
  // memory: CUDA copies it to a staging buffer before returning, so the host copy may change
  // afterwards; only the step after an add() or rebind() has anything to upload).
  static void upload_slots(Group& group, cudaStream_t stream) {
    if (group.dirty_from == group.dirty_to) return;
    const size_t n = size_t(group.dirty_to - group.dirty_from);
    ROOTOPT_CUDA_CHECK(
        cudaMemcpyAsync(group.device_slots.as<cuda::MatrixSlot>() + group.dirty_from,
                        group.slots.data() + group.dirty_from, sizeof(cuda::MatrixSlot) * n,
                        cudaMemcpyHostToDevice, stream),
        "uploading the slots of ", group.name());
    group.dirty_from = group.dirty_to = 0;
  }

  cuda::LtHandle lt_;
  DeviceBuffer workspace_;
  DeviceBuffer flags_;
  std::vector<std::unique_ptr<CudaParam>> params_;
  std::vector<Group> groups_;
  cudaStream_t last_stream_ = nullptr;
};

}  // namespace

bool cuda_device_present() {
  int count = 0;
  if (cudaGetDeviceCount(&count) != cudaSuccess) {
    cudaGetLastError();  // clear the "no device" status so later CUDA calls do not see it
    return false;
  }
  return count > 0;
}

std::unique_ptr<Backend> make_cuda_backend() {
  ROOTOPT_CHECK(cuda_device_present(),
                "the CUDA backend was requested (Device::cuda) but no CUDA device is present; "
                "use Device::cpu");
  return std::make_unique<CudaBackend>();
}

}  // namespace rootopt::detail
