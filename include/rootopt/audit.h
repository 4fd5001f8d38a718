// Audit: how precisely each weight of a model is orthogonalized by each schedule as deployed
// (docs/audit.md). For every distinct weight of a model config and every schedule (a coefficient
// table's recipe for the weight's shape, the named built-ins as deployed, and the anchors
// polar-express-schatten8 and turbo-muon) it reports the recipe's cost and two levels:
//   spectral: the exact composed map p(s) = p_K(...p_1(s)) on sampled spectra of the shape under
//             the recipe's normalization (RMS error, max deviation, range of p(s)), plus the
//             envelope of p over [0, 1] and the per-step minima that decide whether a schedule is
//             safe. Not applicable to turbo-muon (AOL changes the singular vectors);
//   matrix:   the recipe itself (normalization, form, restarts, tail) in the chosen working
//             precision (bf16 by default) on matrices with those spectra, against the polar
//             factor of an fp64 SVD of the original matrix. Shapes of rank above `proxy_rank` run
//             on a proxy of the same aspect ratio, reported as such.
// With `matrices_path`, the user's own captured matrices replace the sampled ones.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <utility>
#include <vector>

#include "rootopt/coefficient_table.h"
#include "rootopt/model_config.h"
#include "rootopt/precision.h"
#include "rootopt/recipe.h"
#include "rootopt/shape.h"

namespace rootopt {

// Anchors the audit compares against besides the built-in schedules (issue 9):
//   polar-express-schatten8: Polar Express's coefficients under Schatten-8 normalization, the
//     ablation that separates what a tuned table gains from its normalization alone;
//   turbo-muon: AOL preconditioning and 4 quintic steps with NVIDIA Emerging-Optimizers' "aol"
//     set (Boissin et al., arXiv 2512.04632), matrix level only.
inline constexpr const char* kPolarExpressSchatten8 = "polar-express-schatten8";
inline constexpr const char* kTurboMuon = "turbo-muon";
// Every name `AuditOptions::schedules` accepts: the built-ins, then the anchors.
std::vector<std::string> audit_schedule_names();

struct AuditOptions {
  std::string model_path;  // Hugging Face config.json (load_model_config)
  std::string table_path;  // coefficient table; empty: built-ins only
  // Built-ins (as deployed: Frobenius, standard form) and anchors (audit_schedule_names()).
  std::vector<std::string> schedules = {"muon",       "polar-express",        "you",
                                        "root-paper", kPolarExpressSchatten8, kTurboMuon};
  Precision precision = Precision::bf16;  // working precision of the matrix-level runs
  std::string matrices_path;   // user matrices (HDF5); empty: sampled spectra and matrices
  int64_t samples = 64;        // spectra per shape (spectral level)
  int64_t matrix_samples = 4;  // matrices per shape (matrix level): the first min(this, samples)
                               // spectra
  int64_t proxy_rank = 256;    // matrix level runs on rank <= this, same aspect ratio
  uint64_t seed = 0;
  int64_t steps = 0;          // built-ins' and polar-express-schatten8's steps; 0: 5 (as deployed).
                              // turbo-muon always runs its 4 steps.
  double envelope_bound = 0;  // 0: the table's "envelope_bound" attribute, else 1.3
  int64_t threads = 0;        // 0: all hardware threads
};

struct SpectralAudit {
  // false: the recipe has no spectral model (turbo-muon's AOL changes the singular vectors);
  // spectra is 0 and rms, max_dev, min_value and max_value are NaN, which reports show as not
  // applicable. The envelope and step minima (properties of the coefficients on [0, 1]) still
  // hold.
  bool applicable = true;
  int64_t spectra = 0;      // how many spectra were evaluated
  double rms = 0;           // mean over spectra of sqrt(mean_i (p(s_i) - 1)^2), s normalized as
                            // the recipe normalizes
  double max_dev = 0;       // max over spectra and i of |p(s_i) - 1|
  double min_value = 0;     // min p(s_i) over all spectra
  double max_value = 0;     // max p(s_i) over all spectra
  double envelope_max = 0;  // max of p over [0, 1]
  double envelope_min = 0;  // min of p over [0, 1]
  double step_min = 0;      // min over steps of each step's map on its input interval
};

struct MatrixAudit {
  Shape shape;           // shape the iterations ran on (the proxy when proxied)
  bool proxy = false;    // true when `shape` is a reduced proxy of the weight's shape
  int64_t matrices = 0;  // how many matrices were run
  double rms = 0;        // mean of ||X_K - U V^T||_F / sqrt(r), U V^T from an fp64 SVD
  double max_dev = 0;    // max |sigma_i(X_K) - 1|
  double min_sv = 0;     // smallest singular value of any X_K
  double max_sv = 0;     // largest singular value of any X_K
  // The same matrices in exact arithmetic (the precision's reference): the spectral prediction
  // on their spectra, or for a recipe without a spectral model (turbo-muon) the recipe run in
  // fp64 against the same polar factor (`exact_from_spectrum` false).
  double exact_rms = 0;
  bool exact_from_spectrum = true;
};

struct ScheduleAudit {
  std::string schedule;  // "table", a built-in or an anchor name
  std::string recipe;    // Recipe::describe(): "schatten8, gram, 7 steps, restart after 2"
  // GEMM flops relative to Polar Express as deployed at the weight's canonical shape, GPU
  // profile (cost_model.h): 1 for every 5-step built-in, 0.8 for turbo-muon.
  double cost = 0;
  std::string origin;     // where the coefficients came from, e.g. "exact", "nearest tuned ..."
  bool fallback = false;  // the table or root-paper had nothing published for this shape
  bool unsafe = false;    // envelope_max > bound, or a step map (or p itself) goes negative
  // "fallback", "unsafe-envelope" (envelope_max > bound), "unsafe-negative" (p or a step < 0),
  // "matrix-over-bound" (rounding pushed a matrix-level singular value above the bound)
  std::vector<std::string> flags;
  SpectralAudit spectral;
  MatrixAudit matrix;
};

struct AuditRow {
  ModelWeight weight;
  bool audited = false;  // false: left to AdamW, or no user matrix matched this weight
  std::string source;    // "sampled" | "matrices: <datasets>" | why it was not audited
  std::vector<ScheduleAudit> results;  // one per AuditReport::schedules, same order
};

struct AuditReport {
  std::vector<std::string> schedules;  // column order ("table" first when a table was given)
  std::vector<AuditRow> rows;          // model weight order
  // When neither the options nor the table give one: the bound the tuner enforces by default, so
  // "unsafe" means "outside what a tuned table may do".
  double envelope_bound = kDefaultEnvelopeBound;
  // Ordered key/value provenance: files and their SHA-256, seed, samples, precision, version...
  std::vector<std::pair<std::string, std::string>> provenance;
};

// Receives (finished, total) work items while the audit runs; called from the calling thread
// or workers, serialised by the audit.
using AuditProgress = std::function<void(int64_t finished, int64_t total)>;

// Runs the audit. Throws rootopt::Error before computing anything on a bad model config, table,
// schedule name, option or user matrix file (naming the file and dataset).
AuditReport run_audit(const AuditOptions& options, const AuditProgress& progress = {});

// The seed of everything sampled for canonical shape `key`: spectra are
// SpectrumMixture::default_mixture().sample_many(key, audit_shape_seed(seed, key), samples).
uint64_t audit_shape_seed(uint64_t seed, Shape key);

// Aligned plain-text table of the report (one line per weight and schedule; "n/a" where a
// level does not apply).
std::string format_audit_table(const AuditReport& report);
std::string audit_csv(const AuditReport& report);   // empty fields where not applicable
std::string audit_json(const AuditReport& report);  // every number plus provenance; null where
                                                    // not applicable

struct AuditOutputOptions {
  // Created if missing; audit.csv, audit.json, and the plots audit.svg (error per layer) and
  // audit-cost.svg (error against cost per layer shape) inside.
  std::string directory;
  bool plot = true;  // run tools/plot_audit.py (skipped with a warning when unavailable)
  std::string python = "/usr/bin/python3";  // ROOTOPT_PYTHON overrides when set
};
// Throws rootopt::Error when `directory` cannot be created or written (checked with a probe
// directory next to it, removed again), so a long audit fails before it starts, not after.
void check_audit_output_directory(const std::string& directory);
// Writes everything into a temporary directory next to `directory`, then moves the files in:
// on any failure nothing is left behind. Warnings (plot skipped) go to `warn`. Returns the paths
// written.
std::vector<std::string> write_audit_outputs(const AuditReport& report,
                                             const AuditOutputOptions& options,
                                             const std::function<void(const std::string&)>& warn);

}  // namespace rootopt
