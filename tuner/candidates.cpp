#include "candidates.h"

#include <algorithm>
#include <map>
#include <tuple>

#include "check.h"
#include "rootopt/cost_model.h"

namespace rootopt::tuner {
namespace {

// Restart patterns of the Gram form (docs/tuner.md, "Recipe search"): none; one restart after
// step 1, 2 or 3; two restarts two or three steps apart; a restart after every odd step. In bf16
// the Gram matrix drifts (spurious negative eigenvalues, eigenvector drift) and the next steps
// amplify it; the published remedy is a restart after step 2 (Dao AI Lab, in fp16). With bf16
// and tuned steps (a ~ 4.2), measured on clamped training momenta: only segments of at most two
// steps starting with a restart after step 1 stayed as stable as the standard form
// (docs/tuner.md, "Safety in bf16"). A restart costs about a standard step's tall products, so
// the cost model prices every pattern and the safety check decides which are stable.
std::vector<std::vector<int64_t>> restart_patterns(IterationForm form, int64_t steps) {
  std::vector<std::vector<int64_t>> out{{}};
  if (form != IterationForm::gram) return out;
  for (int64_t k = 1; k <= 3 && k < steps; ++k) out.push_back({k});
  for (int64_t first = 1; first <= 2; ++first)
    for (int64_t gap = 2; gap <= 3; ++gap)
      if (first + gap < steps) out.push_back({first, first + gap});
  std::vector<int64_t> odd;
  for (int64_t k = 1; k < steps; k += 2) odd.push_back(k);
  if (odd.size() > 2) out.push_back(odd);  // up to two, the patterns above have it
  return out;
}

struct Tail {
  int64_t steps;
  Precision precision;
};

// Tails: the last step, the last two, or every step. A tail that covers step 1 also keeps X0 in
// fp32 (docs/recipes.md), which is what removes the floor bf16 puts under the error: X0's
// rounding to bf16 scrambles every singular direction below ~2^-9 of its norm, and the steps
// then amplify them in the wrong directions.
std::vector<Tail> tails(bool allowed, int64_t steps) {
  std::vector<Tail> out{{0, Precision::fp32}};
  if (!allowed) return out;
  for (Precision p : {Precision::tf32, Precision::fp32}) {
    for (int64_t t = 1; t <= 2 && t <= steps; ++t) out.push_back({t, p});
    if (steps > 2) out.push_back({steps, p});
  }
  return out;
}

}  // namespace

std::vector<Candidate> candidate_recipes(Shape shape, const RecipeSpace& space) {
  // Key without K -> the candidate with the most steps.
  using Key = std::tuple<int, int, std::vector<int64_t>, int64_t, int>;
  std::map<Key, Candidate> best;
  const int64_t k_min = space.steps > 0 ? space.steps : 1;
  const int64_t k_max = space.steps > 0 ? space.steps : kMaxCandidateSteps;
  for (Normalization normalization : space.normalizations)
    for (IterationForm form : space.forms)
      for (int64_t k = k_min; k <= k_max; ++k)
        for (const std::vector<int64_t>& restarts : restart_patterns(form, k))
          for (const Tail& tail : tails(space.precision_tails, k)) {
            Candidate c;
            c.recipe.schedule = builtin_schedule("polar-express", shape, k);
            c.recipe.normalization = normalization;
            c.recipe.form = form;
            c.recipe.restarts = restarts;
            c.recipe.tail_steps = tail.steps;
            c.recipe.tail_precision = tail.precision;
            c.recipe.validate("candidate recipe");
            c.cost = recipe_cost(c.recipe, shape, Precision::bf16, kGpuProfile);
            // The budget is a ratio of two flop counts; 1e-9 keeps Polar Express's own recipe
            // (cost exactly 1) within a budget of 1 whatever the rounding.
            if (c.cost > space.budget * (1 + 1e-9)) continue;
            const Key key{int(normalization), int(form), restarts, tail.steps, int(tail.precision)};
            best[key] = c;  // k ascends: the last one kept has the most steps
          }
  std::vector<Candidate> out;
  for (auto& [key, c] : best) out.push_back(std::move(c));
  const auto order = [](const Recipe& r) {
    return std::make_tuple(int(r.normalization), r.steps(), int(r.form), r.restarts, r.tail_steps,
                           int(r.tail_precision));
  };
  std::sort(out.begin(), out.end(), [&order](const Candidate& x, const Candidate& y) {
    return order(x.recipe) < order(y.recipe);
  });
  return out;
}

void check_some_candidate(Shape shape, const RecipeSpace& space) {
  if (!candidate_recipes(shape, space).empty()) return;
  throw InvalidTuneOption(
      "recipes.budget",
      detail::concat(
          "no recipe for ", to_string(shape.canonical()), " costs at most the budget ",
          space.budget,
          space.steps > 0 ? detail::concat(" with ", space.steps, " steps") : std::string(),
          " (cost relative to Polar Express, 5 standard steps in bf16)"));
}

}  // namespace rootopt::tuner
