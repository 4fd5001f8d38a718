#include "rootopt/spectral.h"

#include <Eigen/Core>
#include <algorithm>
#include <cmath>
#include <functional>

#include "check.h"

namespace rootopt {
namespace {

// Applies the steps in place to an array of singular values (fp64, Eigen-vectorised).
void apply_steps(const std::vector<QuinticStep>& steps, Eigen::ArrayXd& s) {
  // One fused, vectorised pass per step (s^2 is recomputed rather than stored: no temporary).
  for (const QuinticStep& st : steps) s *= st.a + s.square() * (st.b + s.square() * st.c);
}

// Golden-section search for the minimum of `f` on [lo, hi] (f unimodal there: the bracket is
// the two grid cells around a grid extremum). Returns the best point seen, endpoints included.
std::pair<double, double> golden_minimum(const std::function<double(double)>& f, double lo,
                                         double hi, double tolerance) {
  const double inv_phi = (std::sqrt(5.0) - 1.0) / 2.0;
  double x1 = hi - inv_phi * (hi - lo), x2 = lo + inv_phi * (hi - lo);
  double f1 = f(x1), f2 = f(x2);
  // The tolerance is relative to the bracket's magnitude: on the wide intervals step_minima()
  // can meet (images of [0, 1] under steep steps) an absolute 1e-12 is below the spacing of
  // doubles and would never be reached. 0.618^256 < 1e-53: the cap only stops stagnation.
  const double scaled = tolerance * std::max({1.0, std::abs(lo), std::abs(hi)});
  for (int iteration = 0; iteration < 256 && hi - lo > scaled; ++iteration) {
    if (f1 <= f2) {
      hi = x2, x2 = x1, f2 = f1;
      x1 = hi - inv_phi * (hi - lo), f1 = f(x1);
    } else {
      lo = x1, x1 = x2, f1 = f2;
      x2 = lo + inv_phi * (hi - lo), f2 = f(x2);
    }
  }
  return f1 <= f2 ? std::make_pair(x1, f1) : std::make_pair(x2, f2);
}

// Max and min of `steps`' composed map over [lo, hi]: a uniform grid, then golden-section
// refinement inside the two cells around every local grid extremum (a narrow spike between grid
// points still makes its nearest grid point a local extremum, and refinement then climbs it).
Envelope extremes(const std::vector<QuinticStep>& steps, double lo, double hi,
                  const EnvelopeOptions& options) {
  ROOTOPT_CHECK(options.grid_points >= 3, "envelope grid needs >= 3 points, got ",
                options.grid_points);
  ROOTOPT_CHECK(options.refine_tolerance > 0, "envelope refine tolerance must be positive");
  const int64_t n = options.grid_points;
  const Eigen::ArrayXd x = Eigen::ArrayXd::LinSpaced(n, lo, hi);
  Eigen::ArrayXd v = x;
  apply_steps(steps, v);
  const auto map = [&steps](double s) {
    for (const QuinticStep& st : steps) s = st(s);
    return s;
  };
  Envelope env;
  Eigen::Index imax = 0, imin = 0;
  env.max_value = v.maxCoeff(&imax), env.argmax = x[imax];
  env.min_value = v.minCoeff(&imin), env.argmin = x[imin];
  for (Eigen::Index i = 1; i + 1 < n; ++i) {
    const bool is_max = v[i] >= v[i - 1] && v[i] >= v[i + 1];
    const bool is_min = v[i] <= v[i - 1] && v[i] <= v[i + 1];
    if (is_max) {
      const auto [s, neg] = golden_minimum([&](double t) { return -map(t); }, x[i - 1], x[i + 1],
                                           options.refine_tolerance);
      if (-neg > env.max_value) env.max_value = -neg, env.argmax = s;
    }
    if (is_min) {
      const auto [s, val] = golden_minimum(map, x[i - 1], x[i + 1], options.refine_tolerance);
      if (val < env.min_value) env.min_value = val, env.argmin = s;
    }
  }
  return env;
}

}  // namespace

std::vector<double> apply_schedule(const Schedule& schedule, const Spectrum& s) {
  Eigen::ArrayXd values = Eigen::Map<const Eigen::ArrayXd>(s.data(), Eigen::Index(s.size()));
  apply_steps(schedule.steps(), values);
  return std::vector<double>(values.data(), values.data() + values.size());
}

SpectralError spectral_error(const Schedule& schedule, const Spectrum& s) {
  ROOTOPT_CHECK(!s.empty(), "spectral_error on an empty spectrum");
  Eigen::ArrayXd p = Eigen::Map<const Eigen::ArrayXd>(s.data(), Eigen::Index(s.size()));
  apply_steps(schedule.steps(), p);
  const Eigen::ArrayXd dev = p - 1.0;
  SpectralError err;
  err.rms = std::sqrt(dev.square().mean());
  err.max_dev = dev.abs().maxCoeff();
  err.min_value = p.minCoeff();
  err.max_value = p.maxCoeff();
  return err;
}

Spectrum normalized(const Spectrum& frobenius_normalized, Normalization normalization) {
  const Spectrum& s = frobenius_normalized;
  ROOTOPT_CHECK(!s.empty(), "normalized: empty spectrum");
  ROOTOPT_CHECK(normalization != Normalization::aol,
                "normalized: 'aol' changes the singular vectors and has no spectral model");
  double largest = 0;
  for (size_t i = 0; i < s.size(); ++i) {
    ROOTOPT_CHECK(std::isfinite(s[i]) && s[i] >= 0, "normalized: singular value ", i, " = ", s[i],
                  " is negative or not finite");
    largest = std::max(largest, s[i]);
  }
  if (normalization == Normalization::frobenius || largest == 0) return s;
  // ||s||_p = max * (sum (s_i / max)^p)^(1/p): the ratios are <= 1, so no power under- or
  // overflows whatever the scale of s.
  const int p = schatten_order(normalization);
  double sum = 0;
  for (double v : s) sum += std::pow(v / largest, p);
  const double norm = largest * std::pow(sum, 1.0 / p);
  Spectrum out(s.size());
  for (size_t i = 0; i < s.size(); ++i) out[i] = s[i] / norm;
  return out;
}

SpectralError spectral_error(const Recipe& recipe, const Spectrum& frobenius_normalized) {
  return spectral_error(recipe.schedule, normalized(frobenius_normalized, recipe.normalization));
}

Envelope envelope(const Schedule& schedule, const EnvelopeOptions& options) {
  return extremes(schedule.steps(), 0.0, 1.0, options);
}

std::vector<double> step_minima(const Schedule& schedule, const EnvelopeOptions& options) {
  std::vector<double> minima;
  // Image of [0, 1] under the steps so far. The image of an interval under a continuous map is
  // the interval [min, max] of the map on it, so it is tracked step by step.
  double lo = 0.0, hi = 1.0;
  for (const QuinticStep& step : schedule.steps()) {
    const Envelope image = extremes({step}, lo, hi, options);
    minima.push_back(image.min_value);
    lo = image.min_value, hi = image.max_value;
  }
  return minima;
}

}  // namespace rootopt
