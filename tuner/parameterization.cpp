#include "parameterization.h"

#include <cmath>

#include "check.h"
#include "rootopt/spectral.h"

namespace rootopt::tuner {
namespace {

// Bounds per coefficient. Polar Express's first step (8.29, -23.6, 17.3) is the most extreme
// published triple; a must be >= 0 so the map is not sign-flipping near s = 0.
constexpr double kLower[3] = {0.0, -48.0, -16.0};
constexpr double kUpper[3] = {16.0, 16.0, 48.0};
// canonical() pins intermediate peaks only within this factor of 1 (see there).
constexpr double kPeakRange = 1e3;

std::vector<double> repeat_bounds(const double (&bound)[3], int64_t triples) {
  std::vector<double> out;
  for (int64_t k = 0; k < triples; ++k) out.insert(out.end(), bound, bound + 3);
  return out;
}

// v rounded to kCanonicalBits significant bits (to nearest).
double round_significand(double v) {
  if (v == 0 || !std::isfinite(v)) return v;
  int exponent = 0;
  const double mantissa =
      std::frexp(v, &exponent);  // v = mantissa 2^exponent, |mantissa| in [0.5, 1)
  return std::ldexp(std::nearbyint(std::ldexp(mantissa, kCanonicalBits)),
                    exponent - kCanonicalBits);
}

}  // namespace

std::vector<QuinticStep> Parameterization::steps_of(const double* x) const {
  std::vector<QuinticStep> out(static_cast<size_t>(steps));
  for (int64_t k = 0; k < steps; ++k) {
    const double* t = mode == TuneMode::shared ? x : x + 3 * k;
    out[static_cast<size_t>(k)] = {t[0], t[1], t[2]};
  }
  return out;
}

std::vector<QuinticStep> Parameterization::deployed_steps_of(const double* x) const {
  std::vector<QuinticStep> out = steps_of(x);
  for (QuinticStep& t : out) t = with_input_scale(t, safety);
  return out;
}

Schedule Parameterization::schedule(const std::vector<double>& x, const std::string& name) const {
  ROOTOPT_ASSERT(static_cast<int64_t>(x.size()) == size(), "parameter vector of size ", x.size(),
                 ", expected ", size());
  if (mode == TuneMode::shared)
    return Schedule::shared(name, deployed_steps_of(x.data())[0], steps);
  return Schedule(name, deployed_steps_of(x.data()));
}

std::vector<double> Parameterization::params_of(const Schedule& schedule) const {
  const Schedule fitted = schedule.with_steps(steps);
  std::vector<double> x;
  const int64_t triples = mode == TuneMode::shared ? 1 : steps;
  for (int64_t k = 0; k < triples; ++k) {
    const QuinticStep q = with_input_scale(fitted[k], 1.0 / safety);
    x.insert(x.end(), {q.a, q.b, q.c});
  }
  return canonical(x);
}

std::vector<double> Parameterization::canonical(const std::vector<double>& x) const {
  ROOTOPT_ASSERT(static_cast<int64_t>(x.size()) == size(), "parameter vector of size ", x.size(),
                 ", expected ", size());
  std::vector<QuinticStep> q = steps_of(x.data());
  if (mode == TuneMode::per_step) {
    // Step by step: scale q_k's output so that x_k peaks at 1, and q_{k+1}'s input by the same
    // factor, which leaves the composed map unchanged. A peak outside [1/kPeakRange,
    // kPeakRange] belongs to a wild point (a perturbed start whose map explodes or collapses),
    // where rescaling by peak^5 would overflow; it is left alone.
    for (int64_t k = 0; k + 1 < steps; ++k) {
      const Schedule head("head", std::vector<QuinticStep>(q.begin(), q.begin() + k + 1));
      const double peak = envelope(head).max_value;
      if (!(peak >= 1.0 / kPeakRange && peak <= kPeakRange)) continue;
      QuinticStep& t = q[size_t(k)];
      t = {t.a / peak, t.b / peak, t.c / peak};
      q[size_t(k + 1)] = with_input_scale(q[size_t(k + 1)], 1.0 / peak);
    }
  }
  std::vector<double> out;
  const int64_t triples = mode == TuneMode::shared ? 1 : steps;
  for (int64_t k = 0; k < triples; ++k) {
    const QuinticStep& t = q[size_t(k)];
    out.insert(out.end(), {round_significand(t.a), round_significand(t.b), round_significand(t.c)});
  }
  return out;
}

void Parameterization::fold_gradient(const double* per_step, double* out) const {
  if (mode == TuneMode::per_step) {
    std::copy(per_step, per_step + 3 * steps, out);
    return;
  }
  out[0] = out[1] = out[2] = 0;
  for (int64_t k = 0; k < steps; ++k)
    for (int64_t j = 0; j < 3; ++j) out[j] += per_step[3 * k + j];
}

void Parameterization::fold_deployed_gradient(const double* per_step, double* out) const {
  // p = q(x / f) has (a/f, b/f^3, c/f^5): dF/dq = dF/dp scaled by the same factors.
  std::vector<double> designed(size_t(3 * steps));
  for (int64_t k = 0; k < steps; ++k) {
    const QuinticStep g =
        with_input_scale({per_step[3 * k], per_step[3 * k + 1], per_step[3 * k + 2]}, safety);
    designed[size_t(3 * k)] = g.a;
    designed[size_t(3 * k + 1)] = g.b;
    designed[size_t(3 * k + 2)] = g.c;
  }
  fold_gradient(designed.data(), out);
}

std::vector<double> Parameterization::lower_bounds() const {
  return repeat_bounds(kLower, mode == TuneMode::shared ? 1 : steps);
}

std::vector<double> Parameterization::upper_bounds() const {
  return repeat_bounds(kUpper, mode == TuneMode::shared ? 1 : steps);
}

}  // namespace rootopt::tuner
