#include "search.h"

#include <algorithm>
#include <cmath>
#include <exception>
#include <limits>
#include <nlopt.hpp>
#include <random>

#include "check.h"

namespace rootopt::tuner {
namespace {

// Grid-feasibility tolerance for tracking the best point seen.
constexpr double kFeasibilityTolerance = 1e-10;
constexpr int64_t kExchangeRounds = 24;
// The search keeps a small margin inside the bounds, so that the exact maximum near a
// constraint point (verified by rootopt::envelope) and the stored schedule's fp32 rounding of
// the coefficients do not exceed the bound.
constexpr double kEnvelopeMargin = 1e-5;  // relative
constexpr double kGainFloor = 1e-6;
// A group's error within this relative excess over its limit meets the guard: the limit is a
// statistical estimate, and the stored schedule's fp32 rounding moves the errors by ~1e-7.
constexpr double kGuardTolerance = 1e-6;

nlopt::algorithm local_algorithm(const std::string& name) {
  if (name == "slsqp") return nlopt::LD_SLSQP;
  if (name == "mma") return nlopt::LD_MMA;
  if (name == "cobyla") return nlopt::LN_COBYLA;
  throw InvalidTuneOption("search.local", detail::concat("unknown local search method '", name,
                                                         "' (slsqp, mma, cobyla)"));
}

double guard_excess(const SearchProblem& p, const std::vector<double>& group_values) {
  double excess = 0;
  for (size_t g = 0; g < p.guard_limits.size(); ++g)
    if (std::isfinite(p.guard_limits[g]))
      excess = std::max(excess, group_values[g] / p.guard_limits[g] - 1.0);
  return excess;
}

int64_t guard_rows(const SearchProblem& p) {
  return int64_t(std::count_if(p.guard_limits.begin(), p.guard_limits.end(),
                               [](double limit) { return std::isfinite(limit); }));
}

// State shared by the NLopt callbacks of one run: evaluates objective, guard and constraints
// (the objective's evaluation is cached, since NLopt asks for the objective and the constraints
// at the same point), remembers the best grid-feasible point (NLopt's final point need not be
// the best one), and keeps any exception a callback raised: NLopt would turn it into a generic
// failure, indistinguishable from the method's own.
struct RunContext {
  const SearchProblem* problem = nullptr;
  ConstraintBounds bounds;
  std::vector<double> cached_x;
  bool cached_gradients = false;
  SpectralObjective::Evaluation cached;
  std::vector<double> constraint_values;
  std::vector<double> best_x;
  double best_f = std::numeric_limits<double>::infinity();
  double best_excess = std::numeric_limits<double>::infinity();
  int64_t evaluations = 0;
  std::exception_ptr error;

  const SpectralObjective::Evaluation& evaluate(const double* x, unsigned n, bool gradients) {
    if (cached_x.size() == n && std::equal(x, x + n, cached_x.begin()) &&
        (cached_gradients || !gradients))
      return cached;
    problem->objective->evaluate(problem->parameterization.deployed_steps_of(x), gradients, cached);
    cached_x.assign(x, x + n);
    cached_gradients = gradients;
    return cached;
  }

  double max_violation(const double* x) {
    const auto steps = problem->parameterization.steps_of(x);
    problem->constraints->evaluate(steps, bounds, constraint_values.data(), nullptr);
    return *std::max_element(constraint_values.begin(), constraint_values.end());
  }
};

// Runs a callback body; anything it throws is kept in the context and NLopt is stopped.
template <typename Body>
auto guarded(RunContext& ctx, Body body) -> decltype(body()) {
  const SearchProblem& p = *ctx.problem;
  if (p.cancel && p.cancel->load(std::memory_order_relaxed)) throw nlopt::forced_stop();
  try {
    return body();
  } catch (...) {
    ctx.error = std::current_exception();
    throw nlopt::forced_stop();
  }
}

double objective_callback(unsigned n, const double* x, double* grad, void* data) {
  auto& ctx = *static_cast<RunContext*>(data);
  return guarded(ctx, [&] {
    const SearchProblem& p = *ctx.problem;
    ++ctx.evaluations;
    const auto& e = ctx.evaluate(x, n, grad != nullptr);
    if (grad) p.parameterization.fold_deployed_gradient(e.gradient.data(), grad);
    const double f = e.value;
    if (std::isfinite(f) && ctx.max_violation(x) <= kFeasibilityTolerance) {
      // Points meeting the guard rank before those that do not, then by objective.
      const double excess = std::max(guard_excess(p, e.group_values), kGuardTolerance);
      if (excess < ctx.best_excess || (excess == ctx.best_excess && f < ctx.best_f)) {
        ctx.best_excess = excess;
        ctx.best_f = f;
        ctx.best_x.assign(x, x + n);
      }
    }
    return std::isfinite(f) ? f : std::numeric_limits<double>::max();
  });
}

void constraint_callback(unsigned m, double* result, unsigned n, const double* x, double* grad,
                         void* data) {
  auto& ctx = *static_cast<RunContext*>(data);
  guarded(ctx, [&] {
    const SearchProblem& p = *ctx.problem;
    const auto steps = p.parameterization.steps_of(x);
    const size_t per_step = 3 * steps.size();
    const unsigned safety_rows = unsigned(p.constraints->count());
    std::vector<double> rows(grad ? size_t(safety_rows) * per_step : 0);
    p.constraints->evaluate(steps, ctx.bounds, result, grad ? rows.data() : nullptr);
    if (grad)
      for (unsigned i = 0; i < safety_rows; ++i)
        p.parameterization.fold_gradient(rows.data() + i * per_step, grad + size_t(i) * n);
    if (m == safety_rows) return;
    // Guard rows: group error - limit <= 0, gradients through the deployed steps.
    const auto& e = ctx.evaluate(x, n, grad != nullptr);
    unsigned row = safety_rows;
    for (size_t g = 0; g < p.guard_limits.size(); ++g) {
      if (!std::isfinite(p.guard_limits[g])) continue;
      result[row] = e.group_values[g] - p.guard_limits[g];
      if (grad)
        p.parameterization.fold_deployed_gradient(e.group_gradients.data() + g * per_step,
                                                  grad + size_t(row) * n);
      ++row;
    }
    ROOTOPT_ASSERT(row == m, "guard rows: ", row, " of ", m);
  });
}

struct NloptRun {
  int64_t evaluations = 0;
  bool method_failed = false;
};

// One NLopt run from x0 under the constraints (in place: x0 receives the best grid-feasible point
// found, or NLopt's last point if none was feasible).
NloptRun run_nlopt(const SearchProblem& p, nlopt::algorithm algorithm, int64_t max_evals,
                   std::vector<double>& x0) {
  const ConstraintBounds bounds{p.envelope_bound * (1 - kEnvelopeMargin), kGainFloor};
  const unsigned n = unsigned(p.parameterization.size());
  const int64_t rows = p.constraints->count() + guard_rows(p);
  RunContext ctx;
  ctx.problem = &p;
  ctx.bounds = bounds;
  ctx.constraint_values.resize(size_t(p.constraints->count()));
  nlopt::opt opt(algorithm, n);
  opt.set_lower_bounds(p.parameterization.lower_bounds());
  opt.set_upper_bounds(p.parameterization.upper_bounds());
  opt.set_min_objective(objective_callback, &ctx);
  opt.add_inequality_mconstraint(constraint_callback, &ctx,
                                 std::vector<double>(size_t(rows), 1e-12));
  ROOTOPT_ASSERT(max_evals >= 1 && max_evals <= kMaxSearchEvaluations, "max_evals ", max_evals);
  opt.set_maxeval(int(max_evals));
  opt.set_xtol_rel(1e-10);
  opt.set_ftol_rel(1e-12);
  for (size_t i = 0; i < x0.size(); ++i)
    x0[i] = std::clamp(x0[i], opt.get_lower_bounds()[i], opt.get_upper_bounds()[i]);
  std::vector<double> x = x0;
  double f = 0;
  NloptRun run;
  try {
    opt.optimize(x, f);
  } catch (const nlopt::forced_stop&) {
    // Only the callbacks stop a run: on cancellation or with an exception kept in ctx.error.
    ROOTOPT_ASSERT(ctx.error || (p.cancel && p.cancel->load()),
                   "NLopt stopped without a cancellation or an error");
  } catch (const nlopt::roundoff_limited&) {
    // Converged as far as floating point allows: x is still the method's final point.
  } catch (const std::runtime_error&) {
    // NLOPT_FAILURE from the method itself (e.g. SLSQP's line search from an infeasible start):
    // the callbacks let no exception through, so this is not an error of ours; keep the best
    // point seen and count it.
    run.method_failed = true;
  }
  if (ctx.error) std::rethrow_exception(ctx.error);
  if (p.cancel && p.cancel->load()) throw Cancelled("tuning cancelled");
  x0 = ctx.best_x.empty() ? x : ctx.best_x;
  run.evaluations = ctx.evaluations;
  return run;
}

// Local search from x, then the independent safety check of the result; while it fails, the
// points where it violates the constraints are added to the constraint set and the search is
// repeated (exchange method for the semi-infinite constraint "for all s in [0, 1]") from the
// best verified point so far: SLSQP restarted from an infeasible point can jump far, while a
// verified point satisfies every constraint point that can be added. The result is the best
// verified point seen, the start included, so a local search never returns worse than its
// start.
struct LocalResult {
  std::vector<double> x;
  Schedule stored;
  double objective = 0;
  double guard_excess = 0;
  SafetyReport safety;
  int64_t evaluations = 0;
  int64_t method_failures = 0;
};

// Guard first (any excess within tolerance counts as met), then objective.
bool better(double excess, double objective, double best_excess, double best_objective) {
  const double a = std::max(excess, kGuardTolerance), b = std::max(best_excess, kGuardTolerance);
  return a < b || (a == b && objective < best_objective);
}

LocalResult local_search(const SearchProblem& p, const SearchOptions& options,
                         std::vector<double> x) {
  const nlopt::algorithm algorithm = local_algorithm(options.local);
  SafetyConstraints constraints = *p.constraints;
  SearchProblem problem = p;
  problem.constraints = &constraints;
  const Parameterization& par = p.parameterization;
  LocalResult best;
  bool have_best = false;
  // Verifies a point (designed steps: the constraints act on them, see Parameterization) and
  // keeps it if it is safe and better; returns the report.
  const auto consider = [&](const std::vector<double>& point) {
    const SafetyReport report =
        verify_safety(Schedule("designed", par.steps_of(point.data())), p.envelope_bound);
    if (!report.safe) return report;
    SpectralObjective::Evaluation e;
    Schedule stored = par.schedule(point, "candidate");
    p.objective->evaluate(stored.steps(), false, e);
    const double excess = guard_excess(p, e.group_values);
    if (!have_best || better(excess, e.value, best.guard_excess, best.objective)) {
      have_best = true;
      best.x = point;
      best.stored = std::move(stored);
      best.objective = e.value;
      best.guard_excess = excess;
      best.safety = report;
    }
    return report;
  };
  x = par.canonical(x);
  consider(x);
  for (int64_t round = 0; round <= kExchangeRounds; ++round) {
    const NloptRun run = run_nlopt(problem, algorithm, options.local_max_evals, x);
    best.evaluations += run.evaluations;
    best.method_failures += run.method_failed ? 1 : 0;
    x = par.canonical(x);
    const SafetyReport report = consider(x);
    if (report.safe) break;
    const std::vector<double> added =
        violating_points(Schedule("designed", par.steps_of(x.data())), report, p.envelope_bound);
    if (added.empty()) break;
    constraints.add_points(added);
    if (have_best) x = best.x;
  }
  best.safety.safe = have_best;
  return best;
}

}  // namespace

std::vector<std::vector<double>> start_points(const Parameterization& parameterization, Shape shape,
                                              const SearchOptions& options, uint64_t seed) {
  std::vector<Schedule> bases;
  for (const std::string& name : compared_builtins())
    bases.push_back(builtin_schedule(name, shape, parameterization.steps));
  if (parameterization.mode == TuneMode::shared)
    for (Shape published : root_paper_shapes())  // published triples: extra shared starts
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
  ROOTOPT_ASSERT(problem.guard_limits.empty() ||
                     int64_t(problem.guard_limits.size()) == problem.objective->groups(),
                 "guard limits for ", problem.guard_limits.size(), " groups, objective has ",
                 problem.objective->groups());
  std::vector<std::vector<double>> locals = starts;
  SearchOutcome best;
  if (options.global == "isres") {
    // Global stage from the best start; its result joins the local starts.
    nlopt::srand(seed);
    std::vector<double> x = starts.front();
    best.evaluations +=
        run_nlopt(problem, nlopt::GN_ISRES, options.global_max_evals, x).evaluations;
    locals.insert(locals.begin(), x);
  } else if (options.global != "multistart") {
    throw InvalidTuneOption(
        "search.global",
        detail::concat("unknown global search method '", options.global, "' (multistart, isres)"));
  }
  for (size_t i = 0; i < locals.size(); ++i) {
    LocalResult r = local_search(problem, options, locals[i]);
    best.evaluations += r.evaluations;
    best.method_failures += r.method_failures;
    if (r.safety.safe &&
        (!best.found || better(r.guard_excess, r.objective, best.guard_excess, best.objective))) {
      best.found = true;
      best.x = r.x;
      best.stored = r.stored;
      best.objective = r.objective;
      best.guard_excess = r.guard_excess;
      best.safety = r.safety;
      best.start_index = int64_t(i);
    }
  }
  return best;
}

}  // namespace rootopt::tuner
