// Safety constraints of the search, as one vector-valued NLopt inequality constraint c(x) <= 0
// imposed on a finite set of points s in (0, 1] (a semi-infinite program solved by exchange:
// points where the verified result still violates the constraints are added and the local
// search repeated, see search.cpp):
//   - step gains: every step's map p_k(x) = x (a_k + b_k x^2 + c_k x^4) is non-negative on its
//     input range iff its gain a_k + b_k x^2 + c_k x^4 >= gain_floor at every iterate
//     x = x_{k-1}(s) (x >= 0 by induction, and the iterates of all s cover the input range);
//   - envelope: the composed map x_K(s) <= upper.
// Gradients come from forward-mode differentiation of the iterates.
#pragma once

#include <cstdint>
#include <vector>

#include "rootopt/coefficient_table.h"  // kDefaultEnvelopeBound
#include "rootopt/schedule.h"
#include "rootopt/spectral.h"

namespace rootopt::tuner {

// Below this the composed map is at most its slope at 0 times s, far below any bound: the
// slope is the product of the a_k (Polar Express: about 1e3), and Bernstein's inequality bounds
// it by 5^K envelope_bound for any K-step quintic schedule within the bound.
inline constexpr double kGridStart = 1e-5;

struct ConstraintBounds {
  double upper = kDefaultEnvelopeBound;  // composed map <= upper at every point
  double gain_floor = 0.0;  // every step's gain >= gain_floor at every point's iterates
};

class SafetyConstraints {
 public:
  // Initial points: half geometric on [kGridStart, 0.05] (the first steps' large gains put the
  // composed map's wiggles for small s at proportionally small spacing), half uniform on
  // (0.05, 1].
  SafetyConstraints(int64_t grid_points, int64_t steps);

  void add_points(const std::vector<double>& points);  // points in (0, 1]
  const std::vector<double>& points() const { return points_; }
  int64_t count() const { return (steps_ + 1) * int64_t(points_.size()); }  // constraints

  // result[count()] = c(x); if grad_per_step is non-null, row i (3K entries) = d c_i / d(a, b, c)
  // of each step.
  void evaluate(const std::vector<QuinticStep>& steps, const ConstraintBounds& bounds,
                double* result, double* grad_per_step) const;

 private:
  std::vector<double> points_;
  int64_t steps_;
};

// Independent check of the finished schedule, with rootopt::envelope() (fine grid plus local
// refinement) and rootopt::step_minima().
struct SafetyReport {
  bool safe = false;
  Envelope envelope;
  double step_min = 0;  // smallest step minimum over the input ranges (NaN: not checked)
};
SafetyReport verify_safety(const Schedule& schedule, double envelope_bound);

// Points s in (0, 1] where `schedule` violates the constraints most (the refined envelope's
// argmax/argmin and, per step, the dense-scan point of most negative gain): the exchange step's
// new constraint points.
std::vector<double> violating_points(const Schedule& schedule, const SafetyReport& report,
                                     double envelope_bound);

}  // namespace rootopt::tuner
