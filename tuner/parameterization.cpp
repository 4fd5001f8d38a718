#include "parameterization.h"

#include <cmath>

#include "check.h"

namespace rootopt::tuner {
namespace {

// Bounds per coefficient. Polar Express's first step (8.29, -23.6, 17.3) is the most extreme
// published triple; a must be >= 0 so the map is not sign-flipping near s = 0.
constexpr double kLower[3] = {0.0, -48.0, -16.0};
constexpr double kUpper[3] = {16.0, 16.0, 48.0};

std::vector<double> repeat_bounds(const double (&bound)[3], int64_t triples) {
  std::vector<double> out;
  for (int64_t k = 0; k < triples; ++k) out.insert(out.end(), bound, bound + 3);
  return out;
}

// p(x) = q(x / f): (a, b, c) -> (a / f, b / f^3, c / f^5); `power` -1 inverts it.
QuinticStep rescale(const QuinticStep& t, double f, int power) {
  const double g = std::pow(f, power);
  return {t.a * g, t.b * g * g * g, t.c * g * g * g * g * g};
}

}  // namespace

std::vector<QuinticStep> Parameterization::deployed_steps_of(const double* x) const {
  std::vector<QuinticStep> out = steps_of(x);
  for (QuinticStep& t : out) t = rescale(t, safety, -1);
  return out;
}

std::vector<QuinticStep> Parameterization::steps_of(const double* x) const {
  std::vector<QuinticStep> out(static_cast<size_t>(steps));
  for (int64_t k = 0; k < steps; ++k) {
    const double* t = mode == TuneMode::shared ? x : x + 3 * k;
    out[static_cast<size_t>(k)] = {t[0], t[1], t[2]};
  }
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
    const QuinticStep s = rescale(fitted[k], safety, 1);
    x.insert(x.end(), {s.a, s.b, s.c});
  }
  return x;
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
  std::vector<double> designed(per_step, per_step + 3 * steps);
  const double f = 1.0 / safety;
  for (int64_t k = 0; k < steps; ++k) {
    designed[size_t(3 * k)] *= f;
    designed[size_t(3 * k + 1)] *= f * f * f;
    designed[size_t(3 * k + 2)] *= f * f * f * f * f;
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
