#include "rootopt/recipe.h"

#include <algorithm>
#include <sstream>

#include "check.h"

namespace rootopt {
namespace {

// Mantissa bits, as the order of precisions: bf16 < tf32 < fp32 < fp64.
int mantissa_bits(Precision precision) {
  switch (precision) {
    case Precision::bf16:
      return 8;
    case Precision::tf32:
      return 11;
    case Precision::fp32:
      return 24;
    case Precision::fp64:
      return 53;
  }
  ROOTOPT_ASSERT(false, "invalid Precision value ", static_cast<int>(precision));
}

}  // namespace

Normalization parse_normalization(const std::string& text) {
  if (text == "frobenius") return Normalization::frobenius;
  if (text == "schatten4") return Normalization::schatten4;
  if (text == "schatten8") return Normalization::schatten8;
  if (text == "aol") return Normalization::aol;
  ROOTOPT_FAIL("unknown normalization '", text, "' (frobenius, schatten4, schatten8, aol)");
}

std::string to_string(Normalization normalization) {
  switch (normalization) {
    case Normalization::frobenius:
      return "frobenius";
    case Normalization::schatten4:
      return "schatten4";
    case Normalization::schatten8:
      return "schatten8";
    case Normalization::aol:
      return "aol";
  }
  ROOTOPT_ASSERT(false, "invalid Normalization value ", static_cast<int>(normalization));
}

IterationForm parse_iteration_form(const std::string& text) {
  if (text == "standard") return IterationForm::standard;
  if (text == "gram") return IterationForm::gram;
  ROOTOPT_FAIL("unknown iteration form '", text, "' (standard, gram)");
}

std::string to_string(IterationForm form) {
  switch (form) {
    case IterationForm::standard:
      return "standard";
    case IterationForm::gram:
      return "gram";
  }
  ROOTOPT_ASSERT(false, "invalid IterationForm value ", static_cast<int>(form));
}

int schatten_order(Normalization normalization) {
  switch (normalization) {
    case Normalization::frobenius:
      return 2;
    case Normalization::schatten4:
      return 4;
    case Normalization::schatten8:
      return 8;
    case Normalization::aol:
      return 0;
  }
  ROOTOPT_ASSERT(false, "invalid Normalization value ", static_cast<int>(normalization));
}

void Recipe::validate(const std::string& where, bool matrix_level) const {
  const int64_t k = steps();
  ROOTOPT_CHECK(k >= 1 && k <= kMaxRecipeSteps, where, ": ", k, " steps (allowed: 1 to ",
                kMaxRecipeSteps, ")");
  ROOTOPT_CHECK(matrix_level || normalization != Normalization::aol, where,
                ": normalization 'aol' changes the singular vectors and is for matrix-level "
                "comparisons only, not for tables or the runtime");
  ROOTOPT_CHECK(form == IterationForm::gram || restarts.empty(), where,
                ": restarts are only defined for the gram form");
  for (size_t i = 0; i < restarts.size(); ++i) {
    ROOTOPT_CHECK(restarts[i] >= 1 && restarts[i] < k, where, ": restart after step ", restarts[i],
                  " is outside 1..", k - 1);
    ROOTOPT_CHECK(i == 0 || restarts[i] > restarts[i - 1], where,
                  ": restart steps must be strictly ascending");
  }
  ROOTOPT_CHECK(tail_steps >= 0 && tail_steps <= k, where, ": ", tail_steps,
                " tail steps for a recipe of ", k, " steps");
  ROOTOPT_CHECK(tail_precision == Precision::tf32 || tail_precision == Precision::fp32, where,
                ": tail precision must be tf32 or fp32, got ", to_string(tail_precision));
}

Precision Recipe::step_precision(int64_t k, Precision working) const {
  const bool in_tail = k >= steps() - tail_steps;
  return in_tail && mantissa_bits(tail_precision) > mantissa_bits(working) ? tail_precision
                                                                           : working;
}

std::string Recipe::describe() const {
  std::ostringstream out;
  out << to_string(normalization) << ", " << to_string(form) << ", " << steps() << " steps";
  if (!restarts.empty()) {
    out << ", restart after ";
    for (size_t i = 0; i < restarts.size(); ++i) out << (i ? "," : "") << restarts[i];
  }
  if (tail_steps > 0)
    out << ", last "
        << (tail_steps == 1 ? std::string("step") : std::to_string(tail_steps) + " steps") << " "
        << to_string(tail_precision);
  return out.str();
}

Recipe builtin_recipe(const std::string& name, Shape shape, int64_t steps) {
  Recipe recipe;
  recipe.schedule = builtin_schedule(name, shape, steps);
  return recipe;
}

}  // namespace rootopt
