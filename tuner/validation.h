// Evaluation of a schedule after fitting, never on the fitting samples:
//   - spectral: mean RMS error over fresh spectra of the mixture (different seed) and over the
//     held-out real spectra (captured:set=heldout, never in the fitting set);
//   - matrix: real Newton-Schulz iterations in fp32 and emulated bf16 on held-out matrices
//     U diag(s) V^T, against the polar factor from an fp64 SVD (make_best_polar_solver():
//     cuSOLVER with a GPU, else LAPACK). Shapes with rank above max_rank are validated on a
//     proxy with the same aspect ratio (reported as validation_rows/validation_cols).
#pragma once

#include <map>
#include <string>
#include <vector>

#include "rootopt/matrix_reference.h"
#include "rootopt/tuner.h"

namespace rootopt::tuner {

struct HeldoutSpectra {
  std::vector<Spectrum> mixture;  // fresh samples of the fitting mixture
  std::vector<Spectrum> real;     // held-out captured spectra (empty if none configured)
};
HeldoutSpectra heldout_spectra(Shape shape, const TuneOptions& options);

double mean_rms(const Schedule& schedule, const std::vector<Spectrum>& spectra);  // NaN if empty

// prefix + "heldout_rms", prefix + "heldout_real_rms"
void add_spectral_metrics(const std::string& prefix, const Schedule& schedule,
                          const HeldoutSpectra& heldout, std::map<std::string, double>& metrics);

struct MatrixValidation {
  Shape proxy;
  std::vector<Eigen::MatrixXd> matrices;
  std::vector<PolarFactor> references;
};
// options.validation.matrices matrices at the proxy shape (proxy_shape, shape.h), alternating between held-out mixture
// and held-out real spectra (when configured), with their SVD polar factors.
MatrixValidation prepare_matrix_validation(Shape shape, const TuneOptions& options);

// prefix + "fp32_matrix_rms", prefix + "bf16_matrix_rms": mean ||X_K - U V^T||_F / sqrt(r).
void add_matrix_metrics(const std::string& prefix, const Schedule& schedule,
                        const MatrixValidation& validation, std::map<std::string, double>& metrics);

}  // namespace rootopt::tuner
