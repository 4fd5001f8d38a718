// The tuner: for each matrix shape, the recipe (recipe.h: normalisation, K quintic steps,
// iteration form, restarts, precision tail) that orthogonalizes that shape's momentum most
// precisely within a cost budget (ROOT arXiv 2511.20626: per-shape coefficients). Per
// (normalisation, K) the coefficients minimise the expected RMS orthogonality error over sampled
// spectra in exact arithmetic, under safety constraints enforced as NLopt inequality
// constraints:
//   - the composed map stays within [0, envelope_bound] on all of [0, 1];
//   - every step's map is non-negative on its input range;
//   - no group of fitting spectra does worse than the best anchor on it (the guard);
// then every candidate recipe within the budget runs in emulated bf16 on held-out matrices and
// the most precise one is kept. Results go into a CoefficientTable with validation metrics
// (fresh held-out spectra, fresh matrices against an fp64 SVD polar factor) next to the
// built-in schedules' on the same samples. See docs/tuner.md.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "rootopt/coefficient_table.h"
#include "rootopt/error.h"
#include "rootopt/recipe.h"
#include "rootopt/schedule.h"
#include "rootopt/shape.h"
#include "rootopt/spectrum_family.h"

namespace rootopt {

// The built-ins are compared, and guard the fit, as deployed: 5 steps, Frobenius normalisation,
// standard form.
inline constexpr int64_t kDeployedSteps = 5;

// Bounds on user-settable counts: far above any useful value, low enough that a typo fails at
// once instead of running for days or exhausting memory.
inline constexpr int64_t kMaxTuneSteps = 16;
inline constexpr int64_t kMaxTuneSamples = 100000;
inline constexpr int64_t kMaxRandomStarts = 1000;
inline constexpr int64_t kMaxSearchEvaluations = 1000000;
inline constexpr int64_t kMaxValidationMatrices = 1000;
inline constexpr double kMaxBudget = 16.0;

// per_step: one (a, b, c) per step, 3K parameters; shared: one triple for all K steps (3
// parameters, the ROOT paper's form).
enum class TuneMode { per_step, shared };
TuneMode parse_tune_mode(const std::string& text);  // "per-step" | "shared"
std::string to_string(TuneMode mode);

// A user-settable value out of range. field() names the TuneOptions/TuneRunOptions field (e.g.
// "steps", "budget", "out_path"), so a front end can name its own option; what() says what is
// wrong in the library's terms.
class InvalidTuneOption : public Error {
 public:
  InvalidTuneOption(std::string field, const std::string& message)
      : Error(message), field_(std::move(field)) {}
  const std::string& field() const { return field_; }

 private:
  std::string field_;
};

// How the optimum is searched (docs/tuner.md has the measurements behind the defaults).
struct SearchOptions {
  // "multistart": a local search from each built-in schedule and from `random_starts` seeded
  // perturbations of them; "isres": NLOPT_GN_ISRES (global, constrained) for
  // `global_max_evals`, then a local polish of its best point.
  std::string global = "multistart";
  // Local method under the constraints: "slsqp" (NLOPT_LD_SLSQP, analytic gradients),
  // "mma" (NLOPT_LD_MMA), "cobyla" (NLOPT_LN_COBYLA, derivative-free).
  std::string local = "slsqp";
  int64_t random_starts = 0;
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
  // Guard against over-fitting the fitting spectra (docs/tuner.md, "Objective"): the mean error
  // on every group of fitting spectra (each family of the mixture, each captured model) must
  // stay <= guard times the best anchor's error on that group (or bf16's unit roundoff,
  // whichever is larger); the anchor is the best of the built-ins as deployed and Polar Express
  // under the tuned normalisation. 0 turns the guard off.
  double guard = 1.0;
};

// What the tuner may choose per shape (docs/tuner.md, "Recipe search"). The coefficients are
// fitted once per (normalisation, K) in exact arithmetic; every candidate recipe within the
// budget is then run in emulated bf16 on held-out matrices and the most precise one is kept.
struct RecipeSpace {
  // Normalisations tried (the fitted map acts on spectra divided by that norm).
  std::vector<Normalization> normalizations{Normalization::schatten8};
  int64_t steps = 0;  // K of every candidate; 0: every K whose recipes fit the budget
  // Standard only by default: Gram recipes in bf16 passed the tuner's safety inputs yet blew up
  // on real clamped momentum in training (docs/tuner.md, "Gram form in bf16"); opt in with gram.
  std::vector<IterationForm> forms{IterationForm::standard};
  bool precision_tails = true;  // candidates whose last steps run in tf32 or fp32
  // Most a recipe may cost, relative to Polar Express as deployed (5 standard steps, Frobenius,
  // bf16) at the same shape, on the GPU profile of the cost model (cost_model.h).
  double budget = 1.0;
};

struct ValidationOptions {
  bool enabled = true;
  // Held-out matrices per shape on which the candidates are compared (bf16 error), and a fresh
  // set on which the chosen recipe and the built-ins are reported, so the reported numbers carry
  // no selection bias.
  int64_t selection_matrices = 6;
  int64_t matrices = 6;
  int64_t max_rank = 256;  // larger shapes are validated on a proxy with the same aspect ratio
};

struct TuneOptions {
  TuneMode mode = TuneMode::per_step;
  uint64_t seed = 1;
  int64_t samples = 128;          // fitting spectra per shape
  int64_t heldout_samples = 256;  // fresh spectra per shape (different seed) for evaluation
  double envelope_bound = kDefaultEnvelopeBound;  // must be >= 1
  // Fitting distribution (and held-out evaluation distribution, with fresh seeds).
  std::shared_ptr<const SpectrumMixture> mixture;
  // Real spectra never used for fitting ("captured:set=heldout"); null: not evaluated.
  std::shared_ptr<const SpectrumFamily> heldout_real;
  RecipeSpace recipes;
  SearchOptions search;
  ValidationOptions validation;
  // Throws InvalidTuneOption naming the first invalid field.
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
  // Columns of the table's /metrics (names and meaning in docs/tuner.md, "Table contents"):
  // the chosen recipe's cost, its fit and held-out errors (exact arithmetic, under its
  // normalisation), envelope, matrix-level errors on the report matrices, the selection errors
  // that explain the choice, and the same held-out/matrix errors for each built-in as deployed
  // (muon_heldout_rms, ...; NaN for root-paper where it has no published triple) and for Polar
  // Express under the chosen normalisation (polar_express_same_norm_...), plus tune_seconds.
  std::map<std::string, double> metrics;
  // One line per candidate refused because its largest output singular value in emulated bf16
  // left the envelope bound on a low-rank or captured input: recipe, value, input (not stored
  // in the table; its count is the candidates_refused column).
  std::vector<std::string> refused;
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
  // Written atomically after every finished shape. A symbolic link stays one: the table is
  // written to the file it points to.
  std::string out_path;
  bool resume = false;     // keep the compatible shapes already in out_path
  bool overwrite = false;  // replace an existing out_path (without it, or resume, it is refused)
  int64_t threads = 1;     // shapes tuned in parallel (0: every hardware thread)
  // Called once after every check passed, before any work: shapes to tune and shapes kept.
  std::function<void(int64_t todo, int64_t resumed)> on_start;
  std::function<void(const TuneProgress&)> on_progress;  // called from worker threads, serialised
  const std::atomic<bool>* cancel = nullptr;
};

struct TuneRunResult {
  CoefficientTable table;  // what out_path holds (finished shapes only)
  int64_t resumed = 0;     // shapes kept from an existing table
  int64_t tuned = 0;       // shapes tuned now
  bool cancelled = false;  // stopped by the cancel flag; table holds the finished shapes
};

// Tunes every shape (threads across shapes), saving the table after each. Everything is checked
// before any work (options, shapes, and that out_path can be written: not a directory, its
// directory writable, room in the name for the save's temporary "<path>.tmp.<pid>", an existing
// file only with resume or overwrite). On resume, an existing table must have been tuned with
// the same settings (tuning_attributes(); else rootopt::Error naming the mismatch) and keeps its
// provenance. Nothing is written when no shape finishes.
TuneRunResult run_tuning(const TuneRunOptions& run, const TuneOptions& options);

// Provenance attributes a tuned table carries, and the check --resume applies to them.
std::map<std::string, std::string> tuning_attributes(const TuneOptions& options);
void check_resume_compatible(const CoefficientTable& table, const TuneOptions& options,
                             const std::string& path);

}  // namespace rootopt
