#include "search.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <nlopt.hpp>
#include <random>

#include "check.h"

namespace rootopt::tuner {
namespace {

// Shapes with a published ROOT-paper triple (coefficients.md): their triples are extra shared
// start points.
const Shape kRootPaperShapes[] = {{2048, 2048}, {2048, 3072}, {2048, 8192}, {2048, 16384}};

// Grid-feasibility tolerance for tracking the best point seen.
constexpr double kFeasibilityTolerance = 1e-10;
constexpr int64_t kExchangeRounds = 24;
// The search keeps a small margin inside the bounds, so that the exact maximum near a
// constraint point (verified by rootopt::envelope) does not exceed the bound by rounding.
constexpr double kEnvelopeMargin = 1e-6;  // relative
constexpr double kGainFloor = 1e-6;

nlopt::algorithm local_algorithm(const std::string& name) {
  if (name == "slsqp") return nlopt::LD_SLSQP;
  if (name == "mma") return nlopt::LD_MMA;
  if (name == "cobyla") return nlopt::LN_COBYLA;
  ROOTOPT_FAIL("unknown local search method '", name, "' (slsqp, mma, cobyla)");
}

// State shared by the NLopt callbacks of one run: evaluates objective and constraints, and
// remembers the best grid-feasible point (NLopt's final point need not be the best one).
struct RunContext {
  const SearchProblem* problem;
  ConstraintBounds bounds;
  std::vector<double> per_step_grad;
  std::vector<double> constraint_values;
  std::vector<double> best_x;
  double best_f = std::numeric_limits<double>::infinity();
  int64_t evaluations = 0;

  double max_violation(const double* x) {
    const auto steps = problem->parameterization.steps_of(x);
    problem->constraints->evaluate(steps, bounds, constraint_values.data(), nullptr);
    return *std::max_element(constraint_values.begin(), constraint_values.end());
  }
};

double objective_callback(unsigned n, const double* x, double* grad, void* data) {
  auto& ctx = *static_cast<RunContext*>(data);
  const SearchProblem& p = *ctx.problem;
  if (p.cancel && p.cancel->load(std::memory_order_relaxed)) throw nlopt::forced_stop();
  ++ctx.evaluations;
  const auto steps = p.parameterization.deployed_steps_of(x);
  const double f = p.objective->value(steps, grad ? ctx.per_step_grad.data() : nullptr);
  if (grad) p.parameterization.fold_deployed_gradient(ctx.per_step_grad.data(), grad);
  if (std::isfinite(f) && f < ctx.best_f && ctx.max_violation(x) <= kFeasibilityTolerance) {
    ctx.best_f = f;
    ctx.best_x.assign(x, x + n);
  }
  return std::isfinite(f) ? f : std::numeric_limits<double>::max();
}

void constraint_callback(unsigned m, double* result, unsigned n, const double* x, double* grad,
                         void* data) {
  auto& ctx = *static_cast<RunContext*>(data);
  const SearchProblem& p = *ctx.problem;
  const auto steps = p.parameterization.steps_of(x);
  if (!grad) {
    p.constraints->evaluate(steps, ctx.bounds, result, nullptr);
    return;
  }
  const size_t per_step = 3 * steps.size();
  std::vector<double> rows(size_t(m) * per_step);
  p.constraints->evaluate(steps, ctx.bounds, result, rows.data());
  for (unsigned i = 0; i < m; ++i)
    p.parameterization.fold_gradient(rows.data() + i * per_step, grad + size_t(i) * n);
}

// One NLopt run from x0 under the constraints (in place: x0 receives the best grid-feasible point
// found, or NLopt's last point if none was feasible). Returns the number of objective evaluations.
int64_t run_nlopt(const SearchProblem& p, nlopt::algorithm algorithm, int64_t max_evals,
                  std::vector<double>& x0) {
  const ConstraintBounds bounds{p.envelope_bound * (1 - kEnvelopeMargin), kGainFloor};
  const unsigned n = unsigned(p.parameterization.size());
  RunContext ctx{&p,
                 bounds,
                 std::vector<double>(size_t(3 * p.parameterization.steps)),
                 std::vector<double>(size_t(p.constraints->count())),
                 {}};
  nlopt::opt opt(algorithm, n);
  opt.set_lower_bounds(p.parameterization.lower_bounds());
  opt.set_upper_bounds(p.parameterization.upper_bounds());
  opt.set_min_objective(objective_callback, &ctx);
  opt.add_inequality_mconstraint(constraint_callback, &ctx,
                                 std::vector<double>(size_t(p.constraints->count()), 1e-12));
  opt.set_maxeval(int(max_evals));
  opt.set_xtol_rel(1e-10);
  opt.set_ftol_rel(1e-12);
  for (size_t i = 0; i < x0.size(); ++i)
    x0[i] = std::clamp(x0[i], opt.get_lower_bounds()[i], opt.get_upper_bounds()[i]);
  std::vector<double> x = x0;
  double f = 0;
  try {
    opt.optimize(x, f);
  } catch (const nlopt::forced_stop&) {
    if (p.cancel && p.cancel->load()) throw Cancelled("tuning cancelled");
  } catch (const nlopt::roundoff_limited&) {
    // Converged as far as floating point allows: x is still the method's final point.
  } catch (const std::runtime_error&) {
    // NLOPT_FAILURE (e.g. SLSQP's line search from an infeasible start): keep what was seen.
  }
  if (p.cancel && p.cancel->load()) throw Cancelled("tuning cancelled");
  x0 = ctx.best_x.empty() ? x : ctx.best_x;
  return ctx.evaluations;
}

// Local search from x, then the independent safety check; while it fails, the points where the
// result violates the constraints are added to the constraint set and the search is repeated
// from there (exchange method for the semi-infinite constraint "for all s in [0, 1]").
struct LocalResult {
  std::vector<double> x;
  double objective = 0;
  SafetyReport safety;
  int64_t evaluations = 0;
};

LocalResult local_search(const SearchProblem& p, const SearchOptions& options,
                         std::vector<double> x) {
  const nlopt::algorithm algorithm = local_algorithm(options.local);
  SafetyConstraints constraints = *p.constraints;
  SearchProblem problem = p;
  problem.constraints = &constraints;
  LocalResult r;
  for (int64_t round = 0; round <= kExchangeRounds; ++round) {
    r.evaluations += run_nlopt(problem, algorithm, options.local_max_evals, x);
    // The constraints, and so their check, act on the designed steps (see Parameterization).
    const Schedule candidate("candidate", p.parameterization.steps_of(x.data()));
    r.safety = verify_safety(candidate, p.envelope_bound);
    if (r.safety.safe) break;
    const std::vector<double> added = violating_points(candidate, r.safety, p.envelope_bound);
    if (added.empty()) break;
    constraints.add_points(added);
  }
  r.x = x;
  r.objective = p.objective->value(p.parameterization.deployed_steps_of(x.data()), nullptr);
  return r;
}

}  // namespace

std::vector<std::vector<double>> start_points(const Parameterization& parameterization, Shape shape,
                                              const SearchOptions& options, uint64_t seed) {
  std::vector<Schedule> bases;
  for (const std::string& name : compared_builtins())
    bases.push_back(builtin_schedule(name, shape, parameterization.steps));
  if (parameterization.mode == TuneMode::shared)
    for (Shape published : kRootPaperShapes)
      bases.push_back(builtin_schedule("root-paper", published, parameterization.steps));
  std::vector<std::vector<double>> starts;
  for (const Schedule& s : bases) {
    std::vector<double> x = parameterization.params_of(s);
    if (std::find(starts.begin(), starts.end(), x) == starts.end()) starts.push_back(x);
  }
  const size_t base_count = starts.size();
  std::mt19937_64 rng(seed);
  std::normal_distribution<double> normal(0.0, 1.0);
  for (int64_t i = 0; i < options.random_starts; ++i) {
    std::vector<double> x = starts[size_t(i) % base_count];
    for (double& v : x) v *= 1.0 + options.perturbation * normal(rng);
    starts.push_back(x);
  }
  return starts;
}

SearchOutcome search_schedule(const SearchProblem& problem, const SearchOptions& options,
                              const std::vector<std::vector<double>>& starts, uint64_t seed) {
  ROOTOPT_ASSERT(!starts.empty(), "search needs at least one start point");
  std::vector<std::vector<double>> locals = starts;
  SearchOutcome best;
  best.objective = std::numeric_limits<double>::infinity();
  if (options.global == "isres") {
    // Global stage from the best start; its result joins the local starts.
    nlopt::srand(seed);
    std::vector<double> x = starts.front();
    best.evaluations += run_nlopt(problem, nlopt::GN_ISRES, options.global_max_evals, x);
    locals.insert(locals.begin(), x);
  } else {
    ROOTOPT_CHECK(options.global == "multistart", "unknown global search method '", options.global,
                  "' (multistart, isres)");
  }
  bool found = false;
  for (size_t i = 0; i < locals.size(); ++i) {
    LocalResult r = local_search(problem, options, locals[i]);
    best.evaluations += r.evaluations;
    if (r.safety.safe && r.objective < best.objective) {
      found = true;
      best.x = r.x;
      best.objective = r.objective;
      best.safety = r.safety;
      best.start_index = int64_t(i);
    }
  }
  ROOTOPT_CHECK(found, "no start point led to a schedule within the envelope bound ",
                problem.envelope_bound, " (", locals.size(), " starts)");
  return best;
}

}  // namespace rootopt::tuner
