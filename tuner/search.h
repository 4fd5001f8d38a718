// Constrained search for the schedule minimising the spectral objective (docs/tuner.md):
// global stage (multistart from the built-in schedules and seeded perturbations, or
// NLOPT_GN_ISRES), then a local NLopt method under the safety constraints, then an independent
// safety check; a result that fails it is re-solved with a tightened grid bound.
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
  double envelope_bound = 1.3;
  const std::atomic<bool>* cancel = nullptr;
};

struct SearchOutcome {
  std::vector<double> x;  // best safe parameter vector
  double objective = 0;   // its (compressed) fitting objective
  SafetyReport safety;
  int64_t evaluations = 0;  // objective evaluations over all starts
  int64_t start_index = 0;  // which start led to it
};

// Throws rootopt::Error if no start leads to a schedule that passes verify_safety(), and
// Cancelled when *problem.cancel becomes true.
SearchOutcome search_schedule(const SearchProblem& problem, const SearchOptions& options,
                              const std::vector<std::vector<double>>& starts, uint64_t seed);

// The built-in schedules as start points (deduplicated), followed by `random_starts`
// perturbations x_i (1 + perturbation N(0, 1)) of them drawn from `seed`.
std::vector<std::vector<double>> start_points(const Parameterization& parameterization, Shape shape,
                                              const SearchOptions& options, uint64_t seed);

}  // namespace rootopt::tuner
