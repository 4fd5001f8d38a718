// Matrix-level reference: real Newton-Schulz iterations on matrices, measured against the polar
// factor U V^T from an fp64 SVD. This is the ground truth the spectral prediction is checked
// against, and where finite precision (fp32, bf16) shows.
#pragma once

#include <Eigen/Core>
#include <cstdint>
#include <memory>
#include <string>

#include "rootopt/precision.h"
#include "rootopt/recipe.h"
#include "rootopt/schedule.h"
#include "rootopt/spectral.h"

namespace rootopt {

// How the singular vectors of a test matrix are drawn.
enum class SingularVectors {
  // Haar-random U and V: every singular direction spread over all entries.
  haar,
  // The long side's singular vectors are distinct standard basis vectors (random rows or
  // columns, random signs), the short side's Haar: each singular direction lives on one row (or
  // column), like a momentum dominated by a few tokens or features. bf16 rounding of such a
  // matrix is far from isotropic, which is where the Gram form's drift is worst (docs/tuner.md,
  // "Safety in bf16").
  coherent,
};

// An m x n matrix U diag(s) V^T with orthonormal U, V drawn as `vectors` says (Haar: QR of
// Gaussian matrices, sign-corrected), reproducible from `seed`. s.size() must equal min(m, n).
Eigen::MatrixXd matrix_with_spectrum(Shape shape, const Spectrum& s, uint64_t seed,
                                     SingularVectors vectors = SingularVectors::haar);

struct PolarFactor {
  Eigen::MatrixXd polar;     // U V^T, same shape as the input
  Spectrum singular_values;  // descending
};

// Computes the polar factor by an fp64 SVD. The CPU solver uses LAPACK (dgesdd through
// LAPACKE); the CUDA solver uses cuSOLVER (gesvdj) when rootopt is built with CUDA and a GPU is
// present. Both implement this interface, so validation code does not care which runs.
class PolarSolver {
 public:
  virtual ~PolarSolver() = default;
  virtual std::string name() const = 0;  // "lapack" | "cusolver"
  virtual PolarFactor polar(const Eigen::MatrixXd& matrix) const = 0;
};
std::unique_ptr<PolarSolver> make_cpu_polar_solver();
// cuSOLVER when available (built with CUDA, a device present), else the CPU solver.
std::unique_ptr<PolarSolver> make_best_polar_solver();

// The recipe's arithmetic on B (docs/recipes.md, "The arithmetic"), the same code the CPU
// runtime backend runs: step 0 X0 = B / ||B||_F, the normalization (frobenius, schatten4,
// schatten8, or aol, which is accepted here only), the K steps in the recipe's form, each in
// recipe.step_precision(k, working). Tall inputs are processed transposed and transposed back.
// working = fp64: everything in fp64 (exact arithmetic to rounding; the tail does not apply);
// fp32, tf32, bf16: B is rounded to fp32 first and the result is bit-identical to the CPU
// runtime's X_K for that B (fp32 or bf16 working precision). A Schedule converts to a Frobenius,
// standard-form Recipe. Throws rootopt::Error on an empty or non-finite B or an invalid recipe.
Eigen::MatrixXd newton_schulz(const Eigen::MatrixXd& b, const Recipe& recipe, Precision working);

struct MatrixError {
  double rms = 0;      // ||X_K - U V^T||_F / sqrt(r)
  double max_dev = 0;  // max_i |sigma_i(X_K) - 1|
  double min_sv = 0;   // smallest singular value of X_K
  double max_sv = 0;   // largest singular value of X_K
};
// Errors of `x` (a Newton-Schulz result) against the reference polar factor.
MatrixError matrix_error(const Eigen::MatrixXd& x, const PolarFactor& reference);

}  // namespace rootopt
