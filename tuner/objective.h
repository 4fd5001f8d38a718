// The fitting objective: a weighted mean over groups of fitting spectra (the families of the
// mixture, each captured training run) of the mean RMS orthogonality error in the group,
//   F = sum_g w_g (1/N_g) sum_{j in g} sqrt( sum_q v_q (p(s_jq) - 1)^2 ),
// p the composed quintic map (coefficients.md: error = ||X_K - U V^T||_F / sqrt(r) per matrix).
// The per-group means are also what the over-fitting guard constrains (SearchOptions::guard).
// For speed each spectrum is compressed to its order statistics at equal-count bin centres in
// relative index (weights v_q = 1/Q); the gradient with respect to every (a_k, b_k, c_k) is
// exact for the compressed objective (reverse-mode through the K steps).
#pragma once

#include <cstdint>
#include <vector>

#include "rootopt/schedule.h"
#include "rootopt/spectral.h"

namespace rootopt::tuner {

class SpectralObjective {
 public:
  // spectra[j] belongs to group groups[j] in [0, group_weights.size()); the weights are
  // normalised to sum 1; every group needs at least one spectrum.
  SpectralObjective(const std::vector<Spectrum>& spectra, const std::vector<int64_t>& groups,
                    const std::vector<double>& group_weights, int64_t points_per_spectrum);
  // One group of equally weighted spectra.
  SpectralObjective(const std::vector<Spectrum>& spectra, int64_t points_per_spectrum);

  struct Evaluation {
    double value = 0;
    std::vector<double> group_values;     // mean RMS error per group
    std::vector<double> gradient;         // dF/d(a_k, b_k, c_k), 3K entries (if requested)
    std::vector<double> group_gradients;  // row g: d group_values[g] / d(a_k, b_k, c_k)
  };
  void evaluate(const std::vector<QuinticStep>& steps, bool gradients, Evaluation& out) const;
  // F alone; if grad_per_step is non-null it receives dF/d(a_k, b_k, c_k) (3K entries).
  double value(const std::vector<QuinticStep>& steps, double* grad_per_step) const;

  int64_t spectra() const { return static_cast<int64_t>(offsets_.size()) - 1; }
  int64_t groups() const { return static_cast<int64_t>(group_weights_.size()); }
  int64_t points() const { return static_cast<int64_t>(values_.size()); }

 private:
  std::vector<double> values_;         // compressed singular values of all spectra, concatenated
  std::vector<double> weights_;        // per value; each spectrum's weights sum to 1
  std::vector<int64_t> offsets_;       // spectrum j owns [offsets_[j], offsets_[j+1])
  std::vector<int64_t> groups_;        // group of spectrum j
  std::vector<double> group_weights_;  // sum 1
  std::vector<int64_t> group_sizes_;
};

// Equal-count compression of one spectrum to at most `points` values (a spectrum with fewer
// values is kept whole).
Spectrum compress_spectrum(const Spectrum& s, int64_t points);

}  // namespace rootopt::tuner
