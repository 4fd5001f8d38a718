// The ROOT optimizer runtime (ROOT paper arXiv 2511.20626, Algorithm 1 with per-shape
// coefficients). Per registered parameter theta (rows x cols, or a batch of such matrices) with
// gradient g, one step() does:
//   1. M = mu M + g;  U = g + mu M (Nesterov, default) or U = M
//   2. eps = quantile_q(|U|) (default q = 0.9; linear interpolation as torch.quantile) | fixed |
//      off;  B = clamp(U, -eps, eps)
//   3. X0 = B / (||B||_F + 1e-7), in fp32; tall matrices are processed transposed
//   4. the shape's recipe from the table (recipe.h): its normalization, then K quintic steps
//      A = X X^T, X <- a_k X + (b_k A + c_k A^2) X in the standard or the Gram form (bf16 with
//      fp32 accumulation, or fp32; a tail of steps in tf32/fp32)
//   5. theta <- theta (1 - lr wd) - lr scale(m, n) X_K
// Each matrix of a batch is processed independently. docs/runtime.md defines every operation's
// precision exactly (what all backends compute). NaN/Inf in a parameter's gradient, or in the
// new weights computed from it, skips that parameter (momentum and weights untouched); a zero
// gradient gives a zero update.
// This header is host-only: streams are passed as void* (a cudaStream_t on the CUDA backend).
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "rootopt/coefficient_table.h"
#include "rootopt/precision.h"

namespace rootopt {

enum class DType { fp32, bf16 };
enum class Device { cpu, cuda };
enum class ThresholdMode { quantile, fixed, off };
// rms: 0.2 sqrt(max(m, n)) (ROOT / Moonlight, matches AdamW's update RMS);
// spectral: sqrt(max(1, m/n)) (torch.optim.Muon "original"); none: 1.
enum class ScaleMode { rms, spectral, none };

// Hyperparameters; may change between steps (learning-rate schedulers).
struct Hyperparams {
  float lr = 1e-3f;
  float momentum = 0.95f;
  bool nesterov = true;
  float weight_decay = 0.1f;
  ThresholdMode threshold = ThresholdMode::quantile;
  float threshold_quantile = 0.9f;        // quantile mode, in (0, 1]
  float threshold_value = 0.0f;           // fixed mode, > 0
  Precision precision = Precision::bf16;  // Newton-Schulz arithmetic: bf16 or fp32
  ScaleMode scale = ScaleMode::rms;
};

struct OptimizerConfig {
  std::string table_path;  // HDF5 coefficient table; empty: every shape uses `fallback`
  // A table already loaded (CoefficientTable::load), shared by several optimizers so a framework
  // that needs one runtime instance per device or parameter group reads and validates the file
  // once. When set, it is used instead of loading `table_path`, which then only names the table
  // in messages.
  std::shared_ptr<const CoefficientTable> table;
  FallbackPolicy fallback;  // for shapes the table lacks (one warning per shape)
  Device device = Device::cpu;
  Hyperparams hyperparams;
  // Receives warnings: fallback shapes (once per shape) and, on the CPU backend, parameters a
  // step skipped (on CUDA read last_report(), which synchronises). Default: print to stderr.
  std::function<void(const std::string&)> warn;
  // CPU backend: matrices (parameters, and the matrices of a batch) are stepped in parallel by
  // this many threads (0: one per hardware thread). Each thread holds a workspace for the
  // largest matrix and its recipe (~3 rows*cols floats; docs/runtime.md). Results are
  // bit-identical for any value.
  int64_t cpu_threads = 1;
};

// One parameter: `batch` matrices of rows x cols, stored contiguously row-major (a 2-D weight is
// batch = 1; stacked experts are a batch; a conv kernel [out, in, kh, kw] is flattened by the
// caller to rows = out, cols = in*kh*kw). All pointers live on the optimizer's device.
struct ParamSpec {
  std::string name;
  int64_t batch = 1;
  int64_t rows = 0;
  int64_t cols = 0;
  DType dtype = DType::fp32;   // of param and grad
  void* param = nullptr;       // batch * rows * cols elements
  const void* grad = nullptr;  // same dtype and layout as param
  float* momentum = nullptr;   // fp32, same layout; nullptr: the optimizer allocates (zeroed)
};

// What the last step did. Reading it may synchronise the stream of that step.
struct StepReport {
  int64_t step = 0;                  // steps taken so far
  std::vector<std::string> skipped;  // parameters whose gradient or new weights held NaN/Inf:
                                     // not updated, momentum and weights untouched
};

// The recipe a shape gets: the table's entry (or its fallback) when `table` is not null, else the
// named fallback schedule. What Optimizer::add_param resolves, without registering anything.
RecipeLookup resolve_recipe(const CoefficientTable* table, const FallbackPolicy& fallback,
                            Shape shape);

class Optimizer {
 public:
  // Loads and validates the table once. Throws rootopt::Error (bad table, CUDA backend
  // requested but not built or no device present, invalid hyperparameters).
  explicit Optimizer(const OptimizerConfig& config);
  ~Optimizer();
  Optimizer(const Optimizer&) = delete;
  Optimizer& operator=(const Optimizer&) = delete;

  // Registers a parameter and allocates its workspace; returns its id. Throws before anything is
  // modified on null pointers, non-positive sizes or a duplicate name.
  int64_t add_param(const ParamSpec& spec);
  // Replaces the pointers of parameter `id` (e.g. a framework reallocated the gradient). Name
  // (or empty), shape, batch and dtype must match the registration; a mismatch throws and
  // changes nothing. A non-null spec.momentum becomes the momentum storage (its contents are
  // used from the next step); null keeps the current storage.
  void rebind(int64_t id, const ParamSpec& spec);
  int64_t num_params() const;
  const ParamSpec& param(int64_t id) const;
  // The recipe parameter `id` uses, and where it came from (table entry or fallback).
  const RecipeLookup& recipe(int64_t id) const;

  void set_hyperparams(const Hyperparams& hyperparams);  // validated; throws on invalid values
  const Hyperparams& hyperparams() const;

  // One ROOT step over all registered parameters, enqueued on `stream` (CUDA backend; ignored on
  // CPU). No allocation and no host synchronisation on the CUDA backend.
  void step(void* stream = nullptr);
  StepReport last_report() const;

  // Momentum of every parameter and the step count, to/from an HDF5 file (written atomically).
  // Restoring into an optimizer with the same registrations continues bit-identically.
  void save_state(const std::string& path) const;
  void load_state(const std::string& path);
  // Host copies of one parameter's momentum (batch * rows * cols floats).
  std::vector<float> momentum(int64_t id) const;
  void set_momentum(int64_t id, const std::vector<float>& values);

  // Whether this build has the CUDA backend and a device is present.
  static bool cuda_available();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace rootopt
