// The tuner: for each matrix shape, the K-step quintic Newton-Schulz schedule that minimises the
// expected RMS orthogonality error over sampled spectra of that shape (ROOT arXiv 2511.20626,
// per-shape coefficients), under safety constraints enforced as NLopt inequality constraints:
//   - the composed map stays within [0, envelope_bound] on all of [0, 1];
//   - every step's map is non-negative on its input range.
// Results go into a CoefficientTable with validation metrics (held-out spectra, real matrix
// iterations against an fp64 SVD polar factor) next to the built-in schedules' on the same
// samples. See docs/tuner.md.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "rootopt/coefficient_table.h"
#include "rootopt/error.h"
#include "rootopt/recipe.h"
#include "rootopt/schedule.h"
#include "rootopt/shape.h"
#include "rootopt/spectrum_family.h"

namespace rootopt {

// per_step: one (a, b, c) per step, 3K parameters; shared: one triple for all K steps (3
// parameters, the ROOT paper's form).
enum class TuneMode { per_step, shared };
TuneMode parse_tune_mode(const std::string& text);  // "per-step" | "shared"
std::string to_string(TuneMode mode);

// How the optimum is searched (docs/tuner.md has the measurements behind the defaults).
struct SearchOptions {
  // "multistart": a local search from each built-in schedule and from `random_starts` seeded
  // perturbations of them; "isres": NLOPT_GN_ISRES (global, constrained) for
  // `global_max_evals`, then a local polish of its best point.
  std::string global = "multistart";
  // Local method under the constraints: "slsqp" (NLOPT_LD_SLSQP, analytic gradients),
  // "mma" (NLOPT_LD_MMA), "cobyla" (NLOPT_LN_COBYLA, derivative-free).
  std::string local = "slsqp";
  int64_t random_starts = 2;
  double perturbation = 0.1;  // relative size of the random perturbations of a start
  int64_t local_max_evals = 400;
  int64_t global_max_evals = 4000;
  // Initial points in (0, 1] where the constraints are imposed during the search (geometric
  // near 0, uniform above 0.05); the result is then verified with rootopt::envelope() and
  // step_minima(), and re-solved with the violating points added until it passes.
  int64_t constraint_grid = 256;
  // Each fitting spectrum is compressed to this many order statistics (equal-count bins in
  // relative index) for the search; held-out errors always use full spectra.
  int64_t points_per_spectrum = 128;
  // Robustness to rounding, as Polar Express's safety factor (arXiv 2505.16932): the search
  // designs a schedule q under the constraints on [0, 1] and the table stores the deployed
  // schedule p_k(x) = q_k(x / (1 + safety_margin)). Each deployed step then sees its input
  // shrunk into the range q_k was constrained on, so a relative perturbation of up to
  // safety_margin per step (bf16 rounding of X0 and of every GEMM output) cannot push any
  // iterate outside it. Without it the fitted map peaks at the bound exactly at s = 1 and
  // explodes just above (measured: p(1.001) ~ 1e22).
  double safety_margin = 0.01;
};

struct ValidationOptions {
  bool enabled = true;
  int64_t matrices = 3;    // held-out matrices per shape (from the held-out mixture samples)
  int64_t max_rank = 256;  // larger shapes are validated on a proxy with the same aspect ratio
};

struct TuneOptions {
  int64_t steps = 5;
  TuneMode mode = TuneMode::per_step;
  uint64_t seed = 1;
  int64_t samples = 128;          // fitting spectra per shape
  int64_t heldout_samples = 256;  // fresh spectra per shape (different seed) for evaluation
  double envelope_bound = 1.3;    // must be >= 1
  // Fitting distribution (and held-out evaluation distribution, with fresh seeds).
  std::shared_ptr<const SpectrumMixture> mixture;
  // Real spectra never used for fitting ("captured:set=heldout"); null: not evaluated.
  std::shared_ptr<const SpectrumFamily> heldout_real;
  SearchOptions search;
  ValidationOptions validation;
  // Throws rootopt::Error naming the first invalid field.
  void validate() const;
};

// Defaults: default mixture, captured:set=heldout as the real held-out set when present.
TuneOptions default_tune_options();

// Thrown when a run is interrupted through its cancel flag.
class Cancelled : public Error {
 public:
  using Error::Error;
};

struct TunedShape {
  Shape shape;  // canonical
  Recipe recipe;
  // Columns of the table's /metrics (names in docs/tuner.md): fit_rms, heldout_rms,
  // heldout_real_rms, envelope, envelope_min, step_min, fp32_matrix_rms, bf16_matrix_rms, and
  // the same held-out/matrix errors for each built-in (muon_heldout_rms, ...; NaN for
  // root-paper where it has no published triple), plus tune_seconds.
  std::map<std::string, double> metrics;
};

// Tunes one shape. Deterministic for (shape, options): bit-identical coefficients for the same
// seed. Throws Cancelled when *cancel becomes true.
TunedShape tune_shape(Shape shape, const TuneOptions& options,
                      const std::atomic<bool>* cancel = nullptr);

// Metric column prefix of a built-in schedule: "muon_", "polar_express_", "you_", "root_paper_".
std::string builtin_metric_prefix(const std::string& builtin);
// The built-ins the tuner compares against.
std::vector<std::string> compared_builtins();

struct TuneProgress {
  int64_t done = 0;   // shapes finished in this run (skipped ones not counted)
  int64_t total = 0;  // shapes to tune in this run
  const TunedShape* result = nullptr;
  double elapsed_seconds = 0;
  double eta_seconds = 0;
};

struct TuneRunOptions {
  std::vector<Shape> shapes;  // any orientation; duplicates after canonicalisation are merged
  std::string out_path;       // written atomically after every finished shape
  bool resume = false;        // keep the compatible shapes already in out_path
  int64_t threads = 1;        // shapes tuned in parallel
  std::function<void(const TuneProgress&)> on_progress;  // called from worker threads, serialised
  const std::atomic<bool>* cancel = nullptr;
};

struct TuneRunResult {
  CoefficientTable table;  // what out_path holds (finished shapes only)
  int64_t resumed = 0;     // shapes kept from an existing table
  int64_t tuned = 0;       // shapes tuned now
  bool cancelled = false;  // stopped by the cancel flag; table holds the finished shapes
};

// Tunes every shape (threads across shapes), saving the table after each. On --resume, an
// existing table must match steps, mode, seed, samples, envelope bound and mixture (else
// rootopt::Error naming the mismatch). Nothing is written when no shape finishes.
TuneRunResult run_tuning(const TuneRunOptions& run, const TuneOptions& options);

// Provenance attributes a tuned table carries, and the check --resume applies to them.
std::map<std::string, std::string> tuning_attributes(const TuneOptions& options);
void check_resume_compatible(const CoefficientTable& table, const TuneOptions& options,
                             const std::string& path);

}  // namespace rootopt
