// Constrained search for the schedule minimising the spectral objective (docs/tuner.md):
// global stage (multistart from the built-in schedules and seeded perturbations, or
// NLOPT_GN_ISRES), then a local NLopt method under the safety constraints and the over-fitting
// guard, then an independent safety check of the schedule as stored; a result that fails it is
// re-solved with the violating points added to the constraint set.
#pragma once

#include <atomic>
#include <cstdint>
#include <string>
#include <vector>

#include "constraints.h"
#include "objective.h"
#include "parameterization.h"
#include "rootopt/tuner.h"

namespace rootopt::tuner {

struct SearchProblem {
  Parameterization parameterization;
  const SpectralObjective* objective = nullptr;
  const SafetyConstraints* constraints = nullptr;
  double envelope_bound = kDefaultEnvelopeBound;
  // Per group of the objective: its mean error must stay <= guard_limits[g] (an NLopt
  // inequality constraint); infinity: no guard. Empty: no guard at all.
  std::vector<double> guard_limits;
  const std::atomic<bool>* cancel = nullptr;
};

struct SearchOutcome {
  bool found = false;     // some start led to a schedule that passed verify_safety()
  std::vector<double> x;  // best parameter vector (designed steps, canonical gauge)
  Schedule stored;        // its deployed schedule as the table stores it (fp32 coefficients)
  double objective = 0;   // the stored schedule's (compressed) fitting objective
  // Largest relative excess of a group's error over its guard limit (0: the guard holds).
  double guard_excess = 0;
  SafetyReport safety;          // of the stored schedule's designed steps
  int64_t evaluations = 0;      // objective evaluations over all starts
  int64_t method_failures = 0;  // local runs NLopt ended with a generic failure (best kept)
  int64_t start_index = 0;      // which start led to it
};

// Best safe result over the starts: results that satisfy the guard first, then by objective
// (found = false if no start leads to a schedule that passes verify_safety()). Throws
// Cancelled when *problem.cancel becomes true, and rethrows whatever the objective or the
// constraints threw (NLopt would report it as a generic failure).
SearchOutcome search_schedule(const SearchProblem& problem, const SearchOptions& options,
                              const std::vector<std::vector<double>>& starts, uint64_t seed);

// The built-in schedules as start points (canonical gauge, deduplicated), followed by
// `random_starts` perturbations x_i (1 + perturbation N(0, 1)) of them drawn from `seed`.
std::vector<std::vector<double>> start_points(const Parameterization& parameterization, Shape shape,
                                              const SearchOptions& options, uint64_t seed);

}  // namespace rootopt::tuner
