#include "rootopt/schedule.h"

#include <cmath>

#include "check.h"

namespace rootopt {

QuinticStep with_input_scale(const QuinticStep& step, double factor) {
  // Divisions by f, f^3, f^5 (not multiplications by powers of 1/f): Polar Express's code
  // deploys a/1.01, b/1.01^3, c/1.01^5, and the built-in reproduces it bit for bit.
  return {step.a / factor, step.b / std::pow(factor, 3), step.c / std::pow(factor, 5)};
}

Schedule::Schedule(std::string name, std::vector<QuinticStep> steps)
    : name_(std::move(name)), steps_(std::move(steps)) {
  ROOTOPT_CHECK(!steps_.empty(), "schedule '", name_, "' has no steps");
  for (size_t k = 0; k < steps_.size(); ++k) {
    const QuinticStep& st = steps_[k];
    ROOTOPT_CHECK(std::isfinite(st.a) && std::isfinite(st.b) && std::isfinite(st.c), "schedule '",
                  name_, "' step ", k + 1, " has a non-finite coefficient (", st.a, ", ", st.b,
                  ", ", st.c, ")");
  }
}

Schedule Schedule::shared(std::string name, QuinticStep step, int64_t count) {
  ROOTOPT_CHECK(count > 0, "schedule '", name, "': step count must be positive, got ", count);
  return Schedule(std::move(name), std::vector<QuinticStep>(static_cast<size_t>(count), step));
}

bool Schedule::is_shared() const {
  for (const QuinticStep& st : steps_)
    if (st.a != steps_.front().a || st.b != steps_.front().b || st.c != steps_.front().c)
      return false;
  return true;
}

Schedule Schedule::with_steps(int64_t count) const {
  ROOTOPT_CHECK(count > 0, "schedule '", name_, "': step count must be positive, got ", count);
  ROOTOPT_ASSERT(!steps_.empty(), "with_steps on an empty schedule");
  std::vector<QuinticStep> steps(static_cast<size_t>(count), steps_.back());
  for (size_t k = 0; k < steps.size() && k < steps_.size(); ++k) steps[k] = steps_[k];
  return Schedule(name_, std::move(steps));
}

double Schedule::map(double s) const {
  for (const QuinticStep& st : steps_) s = st(s);
  return s;
}

}  // namespace rootopt
