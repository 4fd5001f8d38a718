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
                                     int64_t points_per_spectrum) {
  ROOTOPT_ASSERT(!spectra.empty(), "objective needs at least one spectrum");
  ROOTOPT_CHECK(points_per_spectrum > 0, "points_per_spectrum = ", points_per_spectrum);
  offsets_.push_back(0);
  for (const Spectrum& s : spectra) {
    ROOTOPT_ASSERT(!s.empty(), "objective: empty spectrum");
    const Spectrum c = compress_spectrum(s, points_per_spectrum);
    values_.insert(values_.end(), c.begin(), c.end());
    weights_.insert(weights_.end(), c.size(), 1.0 / double(c.size()));
    offsets_.push_back(static_cast<int64_t>(values_.size()));
  }
}

double SpectralObjective::value(const std::vector<QuinticStep>& steps,
                                double* grad_per_step) const {
  const size_t K = steps.size();
  std::vector<double> x(K + 1);       // iterates x_0 .. x_K of one singular value
  std::vector<double> slope(K);       // d x_{k+1} / d p_k (saturation, see saturation.h)
  std::vector<double> spectrum_grad;  // d(mean square error of one spectrum)/d(coefficients)
  if (grad_per_step) {
    std::fill(grad_per_step, grad_per_step + 3 * K, 0.0);
    spectrum_grad.resize(3 * K);
  }
  const int64_t n = spectra();
  double total = 0;
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
      if (!grad_per_step) continue;
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
    const double rms = std::sqrt(mean_square);
    total += rms;
    if (grad_per_step && rms > 0) {
      // d sqrt(m) = dm / (2 sqrt(m)); averaged over spectra below.
      const double scale = 0.5 / (rms * double(n));
      for (size_t t = 0; t < 3 * K; ++t) grad_per_step[t] += scale * spectrum_grad[t];
    }
  }
  return total / double(n);
}

}  // namespace rootopt::tuner
