// Schedule: K quintic Newton-Schulz steps. Step k maps each singular value s of the iterate by
//   p_k(s) = a_k s + b_k s^3 + c_k s^5,
// i.e. X <- a_k X + (b_k A + c_k A^2) X with A = X X^T (ROOT paper arXiv 2511.20626, eq. for NS5).
// A single triple repeated K times (Muon, the ROOT paper) is the special case "shared".
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "rootopt/shape.h"

namespace rootopt {

struct QuinticStep {
  double a = 0, b = 0, c = 0;
  double operator()(double s) const {
    const double s2 = s * s;
    return s * (a + s2 * (b + s2 * c));
  }
};

// The step x -> step(x / factor), i.e. (a / f, b / f^3, c / f^5). This is how a safety margin
// is applied (Polar Express, arXiv 2505.16932: every designed step q is deployed as q(x / 1.01),
// so an input enlarged by up to 1 % by rounding still lies in the range q was designed for),
// and how a step's input is moved when the scale between two steps changes. The one place for
// this formula: Polar Express's built-in and the tuner both use it.
QuinticStep with_input_scale(const QuinticStep& step, double factor);

class Schedule {
 public:
  Schedule() = default;
  // Throws rootopt::Error if `steps` is empty or holds a non-finite coefficient.
  Schedule(std::string name, std::vector<QuinticStep> steps);
  // One triple repeated `count` times.
  static Schedule shared(std::string name, QuinticStep step, int64_t count);

  const std::string& name() const { return name_; }
  int64_t size() const { return static_cast<int64_t>(steps_.size()); }
  const QuinticStep& operator[](int64_t k) const { return steps_[static_cast<size_t>(k)]; }
  const std::vector<QuinticStep>& steps() const { return steps_; }
  bool is_shared() const;  // all steps identical

  // The same schedule with exactly `count` steps: truncated, or extended by repeating the last
  // step (Polar Express's convention for steps beyond its published list).
  Schedule with_steps(int64_t count) const;
  // Applies all steps to one singular value: p_K(...p_1(s)).
  double map(double s) const;

 private:
  std::string name_;
  std::vector<QuinticStep> steps_;
};

// Built-in schedules from ../shared/reference/coefficients.md:
//   "muon"          (3.4445, -4.7750, 2.0315) every step;
//   "polar-express" the published degree-5 list (Amsel et al., arXiv 2505.16932) as their code
//                   deploys it: all triples but the last divided by the safety factor 1.01;
//   "you"           You Jiacheng's 5-step per-step set;
//   "root-paper"    the ROOT paper's per-shape triple for its four published shapes, Muon's
//                   triple for any other shape.
std::vector<std::string> builtin_schedule_names();
// The shapes the ROOT paper published a triple for (canonical, ascending).
std::vector<Shape> root_paper_shapes();
// `steps` steps for `shape` (only "root-paper" depends on the shape). Throws on unknown names.
Schedule builtin_schedule(const std::string& name, Shape shape, int64_t steps = 5);
// True when `name` has coefficients published specifically for `shape` (false for root-paper's
// Muon fallback); the other built-ins are shape-independent and always return true.
bool builtin_is_published_for(const std::string& name, Shape shape);

}  // namespace rootopt
