#include "parameterization.h"

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

}  // namespace

std::vector<QuinticStep> Parameterization::steps_of(const double* x) const {
  std::vector<QuinticStep> out(static_cast<size_t>(steps));
  for (int64_t k = 0; k < steps; ++k) {
    const double* t = mode == TuneMode::shared ? x : x + 3 * k;
    out[static_cast<size_t>(k)] = {t[0], t[1], t[2]};
  }
  return out;
}

Schedule Parameterization::schedule(const std::vector<double>& x, const std::string& name) const {
  ROOTOPT_CHECK(static_cast<int64_t>(x.size()) == size(), "parameter vector of size ", x.size(),
                ", expected ", size());
  if (mode == TuneMode::shared) return Schedule::shared(name, {x[0], x[1], x[2]}, steps);
  return Schedule(name, steps_of(x.data()));
}

std::vector<double> Parameterization::params_of(const Schedule& schedule) const {
  const Schedule fitted = schedule.with_steps(steps);
  std::vector<double> x;
  const int64_t triples = mode == TuneMode::shared ? 1 : steps;
  for (int64_t k = 0; k < triples; ++k) {
    const QuinticStep& s = fitted[k];
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

std::vector<double> Parameterization::lower_bounds() const {
  return repeat_bounds(kLower, mode == TuneMode::shared ? 1 : steps);
}

std::vector<double> Parameterization::upper_bounds() const {
  return repeat_bounds(kUpper, mode == TuneMode::shared ? 1 : steps);
}

}  // namespace rootopt::tuner
