// The tuner's parameter vector <-> a Schedule. per_step: (a_1, b_1, c_1, ..., a_K, b_K, c_K);
// shared: (a, b, c) used by all K steps. Gradients are computed per step (3K entries) and
// folded into the parameter vector by fold_gradient.
//
// Scaling gauge: a composed schedule is unchanged by p_k -> lambda p_k, p_{k+1}(y) ->
// p_{k+1}(y / lambda) (K - 1 free scales in per-step mode), so without a pin the optimum is a
// (K-1)-dimensional valley and the stored coefficients depend on the start. canonical() pins it:
// every intermediate composed map x_k = q_k o ... o q_1 (k < K) peaks at exactly 1 on [0, 1]
// (docs/tuner.md, "Scaling gauge").
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "rootopt/schedule.h"
#include "rootopt/tuner.h"

namespace rootopt::tuner {

// Significant bits canonical() keeps. Two runs that end within the search's tolerance (~1e-10
// relative) agree after this rounding unless a value straddles a rounding boundary; the
// rounding moves the composed map by at most ~1e-10 relative per coefficient times the map's
// sensitivity (measured below 1e-6, inside the search's envelope margin of 1e-5). fp32 (24
// bits), the precision the backends run coefficients in, moved the envelope of steep 6-step
// maps by up to 7.5e-4, too much to verify the bound on.
inline constexpr int kCanonicalBits = 32;

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
  // shared takes its first triple. Returned in the canonical gauge.
  std::vector<double> params_of(const Schedule& schedule) const;
  // The same composed map in the canonical gauge (per_step; shared has no gauge freedom), with
  // every coefficient rounded to kCanonicalBits significant bits, so that gauge-equivalent
  // inputs, and results that agree to the search's tolerance, give identical bits.
  std::vector<double> canonical(const std::vector<double>& x) const;
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
