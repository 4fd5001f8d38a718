#include "objective.h"

#include <algorithm>
#include <cmath>

#include "check.h"
#include "saturation.h"

namespace rootopt::tuner {

Spectrum compress_spectrum(const Spectrum& s, int64_t points) {
  const int64_t r = static_cast<int64_t>(s.size());
  if (r <= points) return s;
  // Bin q covers relative index [q/Q, (q+1)/Q); its centre (q + 0.5) r/Q - 0.5 in 0-based index
  // is read by linear interpolation between neighbouring order statistics.
  Spectrum out(static_cast<size_t>(points));
  for (int64_t q = 0; q < points; ++q) {
    const double position = (q + 0.5) * double(r) / double(points) - 0.5;
    const int64_t i = std::clamp<int64_t>(int64_t(std::floor(position)), 0, r - 2);
    const double t = std::clamp(position - double(i), 0.0, 1.0);
    out[size_t(q)] = (1 - t) * s[size_t(i)] + t * s[size_t(i + 1)];
  }
  return out;
}

SpectralObjective::SpectralObjective(const std::vector<Spectrum>& spectra,
                                     const std::vector<int64_t>& groups,
                                     const std::vector<double>& group_weights,
                                     int64_t points_per_spectrum)
    : groups_(groups), group_sizes_(group_weights.size(), 0) {
  ROOTOPT_ASSERT(!spectra.empty(), "objective needs at least one spectrum");
  ROOTOPT_ASSERT(groups.size() == spectra.size(), "objective: ", groups.size(), " group ids for ",
                 spectra.size(), " spectra");
  ROOTOPT_CHECK(points_per_spectrum > 0, "points per spectrum = ", points_per_spectrum);
  double total_weight = 0;
  for (double w : group_weights) {
    ROOTOPT_ASSERT(std::isfinite(w) && w > 0, "objective: group weight ", w);
    total_weight += w;
  }
  for (double w : group_weights) group_weights_.push_back(w / total_weight);
  for (int64_t g : groups) {
    ROOTOPT_ASSERT(g >= 0 && g < int64_t(group_weights.size()), "objective: group id ", g);
    ++group_sizes_[size_t(g)];
  }
  for (int64_t n : group_sizes_) ROOTOPT_ASSERT(n > 0, "objective: a group without spectra");
  offsets_.push_back(0);
  for (const Spectrum& s : spectra) {
    ROOTOPT_ASSERT(!s.empty(), "objective: empty spectrum");
    const Spectrum c = compress_spectrum(s, points_per_spectrum);
    values_.insert(values_.end(), c.begin(), c.end());
    weights_.insert(weights_.end(), c.size(), 1.0 / double(c.size()));
    offsets_.push_back(static_cast<int64_t>(values_.size()));
  }
}

SpectralObjective::SpectralObjective(const std::vector<Spectrum>& spectra,
                                     int64_t points_per_spectrum)
    : SpectralObjective(spectra, std::vector<int64_t>(spectra.size(), 0), {1.0},
                        points_per_spectrum) {}

void SpectralObjective::evaluate(const std::vector<QuinticStep>& steps, bool gradients,
                                 Evaluation& out) const {
  const size_t K = steps.size(), G = group_weights_.size();
  std::vector<double> x(K + 1);       // iterates x_0 .. x_K of one singular value
  std::vector<double> slope(K);       // d x_{k+1} / d p_k (saturation, see saturation.h)
  std::vector<double> spectrum_grad;  // d(mean square error of one spectrum)/d(coefficients)
  out.value = 0;
  out.group_values.assign(G, 0.0);
  if (gradients) {
    out.gradient.assign(3 * K, 0.0);
    out.group_gradients.assign(G * 3 * K, 0.0);
    spectrum_grad.resize(3 * K);
  }
  const int64_t n = spectra();
  for (int64_t j = 0; j < n; ++j) {
    double mean_square = 0;
    std::fill(spectrum_grad.begin(), spectrum_grad.end(), 0.0);
    for (int64_t i = offsets_[size_t(j)]; i < offsets_[size_t(j + 1)]; ++i) {
      x[0] = values_[size_t(i)];
      for (size_t k = 0; k < K; ++k) {
        const Saturated next = saturate(steps[k](x[k]));
        x[k + 1] = next.value;
        slope[k] = next.slope;
      }
      const double residual = x[K] - 1.0;
      const double w = weights_[size_t(i)];
      mean_square += w * residual * residual;
      if (!gradients) continue;
      // Reverse mode: g = d x_K / d x_k, starting from d(w r^2)/d x_K = 2 w r.
      double g = 2.0 * w * residual;
      for (size_t k = K; k-- > 0;) {
        g *= slope[k];
        const double s = x[k], s2 = s * s;
        spectrum_grad[3 * k] += g * s;
        spectrum_grad[3 * k + 1] += g * s * s2;
        spectrum_grad[3 * k + 2] += g * s * s2 * s2;
        g *= steps[k].a + s2 * (3.0 * steps[k].b + 5.0 * steps[k].c * s2);
      }
    }
    const size_t group = size_t(groups_[size_t(j)]);
    const double rms = std::sqrt(mean_square);
    const double group_share = 1.0 / double(group_sizes_[group]);
    out.group_values[group] += group_share * rms;
    if (gradients && rms > 0) {
      // d sqrt(m) = dm / (2 sqrt(m)), averaged over the group's spectra.
      const double scale = 0.5 / rms * group_share;
      double* row = out.group_gradients.data() + group * 3 * K;
      for (size_t t = 0; t < 3 * K; ++t) row[t] += scale * spectrum_grad[t];
    }
  }
  for (size_t g = 0; g < G; ++g) {
    out.value += group_weights_[g] * out.group_values[g];
    if (!gradients) continue;
    for (size_t t = 0; t < 3 * K; ++t)
      out.gradient[t] += group_weights_[g] * out.group_gradients[g * 3 * K + t];
  }
}

double SpectralObjective::value(const std::vector<QuinticStep>& steps,
                                double* grad_per_step) const {
  Evaluation e;
  evaluate(steps, grad_per_step != nullptr, e);
  if (grad_per_step) std::copy(e.gradient.begin(), e.gradient.end(), grad_per_step);
  return e.value;
}

}  // namespace rootopt::tuner
