// The tuner's parameter vector <-> a Schedule. per_step: (a_1, b_1, c_1, ..., a_K, b_K, c_K);
// shared: (a, b, c) used by all K steps. Gradients are computed per step (3K entries) and
// folded into the parameter vector by fold_gradient.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "rootopt/schedule.h"
#include "rootopt/tuner.h"

namespace rootopt::tuner {

// The parameter vector holds the designed steps q_k, on which the safety constraints act; the
// deployed schedule (objective, table) is p_k(x) = q_k(x / safety), see
// SearchOptions::safety_margin.
struct Parameterization {
  TuneMode mode = TuneMode::per_step;
  int64_t steps = 5;
  double safety = 1.0;  // 1 + safety_margin

  int64_t size() const { return mode == TuneMode::shared ? 3 : 3 * steps; }
  std::vector<QuinticStep> steps_of(const double* x) const;                        // designed q_k
  std::vector<QuinticStep> deployed_steps_of(const double* x) const;               // p_k
  Schedule schedule(const std::vector<double>& x, const std::string& name) const;  // deployed
  // A start point from a deployed schedule: per_step takes its K steps (extended/truncated);
  // shared takes its first triple.
  std::vector<double> params_of(const Schedule& schedule) const;
  // Per-step gradient (3K entries) -> gradient in the parameter vector (size()).
  void fold_gradient(const double* per_step, double* out) const;
  // Same for a gradient with respect to the deployed steps (chain rule through the 1/safety^j
  // factors).
  void fold_deployed_gradient(const double* per_step, double* out) const;
  // Box bounds on (a, b, c) that keep the search in a sane region; every published schedule
  // lies well inside.
  std::vector<double> lower_bounds() const;
  std::vector<double> upper_bounds() const;
};

}  // namespace rootopt::tuner
