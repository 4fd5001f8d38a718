// The fitting objective: mean over sampled spectra of the RMS orthogonality error
//   F = (1/N) sum_j sqrt( sum_q w_q (p(s_jq) - 1)^2 ),
// p the composed quintic map (coefficients.md: error = ||X_K - U V^T||_F / sqrt(r) per matrix).
// For speed each spectrum is compressed to its order statistics at equal-count bin centres in
// relative index (weights 1/Q); the gradient with respect to every (a_k, b_k, c_k) is exact for
// the compressed objective (reverse-mode through the K steps).
#pragma once

#include <cstdint>
#include <vector>

#include "rootopt/schedule.h"
#include "rootopt/spectral.h"

namespace rootopt::tuner {

class SpectralObjective {
 public:
  SpectralObjective(const std::vector<Spectrum>& spectra, int64_t points_per_spectrum);

  // F for the per-step coefficients; if grad_per_step is non-null it receives dF/d(a_k, b_k,
  // c_k) (3K entries).
  double value(const std::vector<QuinticStep>& steps, double* grad_per_step) const;

  int64_t spectra() const { return static_cast<int64_t>(offsets_.size()) - 1; }
  int64_t points() const { return static_cast<int64_t>(values_.size()); }

 private:
  std::vector<double> values_;    // compressed singular values of all spectra, concatenated
  std::vector<double> weights_;   // per value; each spectrum's weights sum to 1
  std::vector<int64_t> offsets_;  // spectrum j owns [offsets_[j], offsets_[j+1])
};

// Equal-count compression of one spectrum to at most `points` values (a spectrum with fewer
// values is kept whole).
Spectrum compress_spectrum(const Spectrum& s, int64_t points);

}  // namespace rootopt::tuner
