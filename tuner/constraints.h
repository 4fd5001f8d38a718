// Safety constraints of the search, as one vector-valued NLopt inequality constraint c(x) <= 0
// imposed on a uniform grid s_g = g/G, g = 1..G:
//   - step gains: every step's map p_k(x) = x (a_k + b_k x^2 + c_k x^4) is non-negative on its
//     input range iff its gain a_k + b_k x^2 + c_k x^4 >= gain_floor at every iterate
//     x = x_{k-1}(s_g) (x >= 0 by induction, and the grid's iterates cover the input range);
//   - envelope: the composed map x_K(s_g) <= upper.
// Gradients come from forward-mode differentiation of the iterates. A grid can miss a narrow
// spike between its points, so results are verified afterwards with verify_safety().
#pragma once

#include <cstdint>
#include <vector>

#include "rootopt/schedule.h"
#include "rootopt/spectral.h"

namespace rootopt::tuner {

struct ConstraintBounds {
  double upper = 1.3;       // composed map <= upper on the grid
  double gain_floor = 0.0;  // every step's gain >= gain_floor on the grid
};

class SafetyConstraints {
 public:
  SafetyConstraints(int64_t grid_points, int64_t steps);

  int64_t count() const { return (steps_ + 1) * grid_points_; }  // constraints
  // result[count()] = c(x); if grad_per_step is non-null, row i (3K entries) = d c_i / d(a, b, c)
  // of each step.
  void evaluate(const std::vector<QuinticStep>& steps, const ConstraintBounds& bounds,
                double* result, double* grad_per_step) const;

 private:
  int64_t grid_points_;
  int64_t steps_;
};

// Independent check of the finished schedule, with rootopt::envelope() (fine grid plus local
// refinement) and rootopt::step_minima().
struct SafetyReport {
  bool safe = false;
  Envelope envelope;
  double step_min = 0;  // smallest step minimum over the steps' input ranges
};
SafetyReport verify_safety(const Schedule& schedule, double envelope_bound);

}  // namespace rootopt::tuner
