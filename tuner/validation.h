// Evaluation of recipes after fitting, never on the fitting samples:
//   - spectral (exact arithmetic): mean RMS error over fresh spectra of the mixture (different
//     seed) and over the held-out real spectra (captured:set=heldout, never in the fitting set),
//     each spectrum normalised as the recipe says;
//   - matrix: the recipe run in fp32 and emulated bf16 (every product rounded as the runtime
//     does) on held-out matrices U diag(s) V^T, against the polar factor from an fp64 SVD
//     (make_best_polar_solver(): cuSOLVER with a GPU, else LAPACK). Shapes with rank above
//     max_rank are validated on a proxy with the same aspect ratio (validation_rows/cols). Two
//     independent sets: candidates are compared on the selection set, the chosen recipe and the
//     built-ins are reported on the report set.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "rootopt/matrix_reference.h"
#include "rootopt/tuner.h"
#include "seeds.h"

namespace rootopt::tuner {

struct HeldoutSpectra {
  std::vector<Spectrum> mixture;  // fresh samples of the fitting mixture
  std::vector<Spectrum> real;     // held-out captured spectra (empty if none configured)
};
HeldoutSpectra heldout_spectra(Shape shape, const TuneOptions& options);

// Mean exact RMS error of the recipe over Frobenius-normalised spectra; NaN if there are none.
double mean_rms(const Recipe& recipe, const std::vector<Spectrum>& spectra);

// prefix + "heldout_rms", prefix + "heldout_real_rms"
void add_spectral_metrics(const std::string& prefix, const Recipe& recipe,
                          const HeldoutSpectra& heldout, std::map<std::string, double>& metrics);

struct MatrixSet {
  Shape proxy;
  std::vector<Eigen::MatrixXd> matrices;
  std::vector<PolarFactor> references;
};
// `count` matrices at the proxy shape (proxy_shape, shape.h) from `stream`, with their SVD polar
// factors. The report set alternates between the fitting mixture (fresh samples) and the held-out
// real spectra (when configured); every other stream (the selection set) draws from the fitting
// mixture only, so the held-out models never influence which recipe is chosen.
MatrixSet prepare_matrix_set(Shape shape, const TuneOptions& options, SeedStream stream,
                             int64_t count);

// The inputs on which a recipe must stay stable in emulated bf16 (docs/tuner.md, "Safety in
// bf16"): the Gram form's R drifts where X0 has small singular values, and later steps amplify
// the drift (docs/recipes.md). At the validation proxy shape: rank-1, near-rank-1 and rank-4
// spectra, and kSafetyCapturedInputs captured spectra of the fitting mixture (its "captured"
// components; the mixture itself when it has none), each with Haar and with coherent singular
// vectors (matrix_reference.h). Never held-out spectra.
struct SafetySet {
  Shape proxy;
  std::vector<Eigen::MatrixXd> matrices;
  std::vector<Spectrum> spectra;    // each matrix's Frobenius-normalised singular values
  std::vector<std::string> labels;  // what each input is, for the refusal message
};
inline constexpr int64_t kSafetyCapturedInputs = 4;
SafetySet prepare_safety_set(Shape shape, const TuneOptions& options);

// bf16's unit roundoff (8 significant bits, round to nearest).
inline constexpr double kBf16UnitRoundoff = 0.00390625;
// A recipe is refused when its largest output singular value exceeds the envelope bound by more
// than bf16's unit roundoff, relative: the final rounding of X_K alone can move it that much.
inline constexpr double kSafetyTolerance = kBf16UnitRoundoff;

struct SafetyCheck {
  double max_singular_value = 0;  // largest over the set (infinity: a non-finite output)
  std::string worst_input;        // label of the input that reached it
  // Largest over the set of (largest bf16 output singular value) - (the recipe's exact one,
  // max p(s_i) of the input's spectrum): what rounding added. Infinity for a non-finite output.
  double max_excess = 0;
  std::string excess_input;  // label of the input that reached it
};
// The recipe run in emulated bf16 on every input of the set.
SafetyCheck check_safety(const Recipe& recipe, const SafetySet& set);

// The excess a candidate may show: kExcessFactor times the anchor's (Polar Express as deployed,
// on the same set), at least kExcessFactor bf16 roundoffs. The envelope alone does not catch the
// Gram form's drift: in the byte-LM benchmark a recipe whose excess on such inputs was ~0.04
// typically (the standard form's ~0.003; docs/tuner.md) produced an update 8x its intended size
// once. A recipe must be about as stable as the anchor, whatever its coefficients.
inline constexpr double kExcessFactor = 4;
double excess_limit(const SafetyCheck& anchor);

// Mean ||X_K - U V^T||_F / sqrt(r) of the recipe run in `working` precision; NaN if the set is
// empty, infinity if a run diverged (a non-finite result: e.g. the Gram form without restarts,
// whose Gram matrix drifts in bf16).
double matrix_rms(const Recipe& recipe, const MatrixSet& set, Precision working);
// prefix + "fp32_matrix_rms", prefix + "bf16_matrix_rms" (a table stores no infinity: a
// diverged run is NaN there, with prefix + "<precision>_matrix_diverged" = 1)
void add_matrix_metrics(const std::string& prefix, const Recipe& recipe, const MatrixSet& set,
                        std::map<std::string, double>& metrics);

}  // namespace rootopt::tuner
