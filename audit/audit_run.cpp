// run_audit: builds the audit's work units (one per distinct canonical shape, or per set of user
// matrices), runs them in parallel into fixed slots, then summarises them per weight row.
#include <Eigen/SVD>
#include <algorithm>
#include <cmath>
#include <map>
#include <memory>

#include "blas_threads.h"
#include "check.h"
#include "matrix_audit.h"
#include "matrix_matching.h"
#include "matrix_seed.h"
#include "provenance.h"
#include "rootopt/audit.h"
#include "rootopt/cost_model.h"
#include "rootopt/spectrum_family.h"
#include "schedule_set.h"
#include "spectral_audit.h"
#include "tasks.h"

namespace rootopt {
namespace audit {
namespace {

// The data one group of rows shares: a canonical shape's sampled spectra and matrices, or the
// user matrices matched to a weight. Tasks write into the slots of `spectral` and `runs`.
struct Unit {
  Shape key;
  std::vector<int64_t> datasets;  // user matrices (indices); empty for a sampled unit
  std::vector<ResolvedSchedule> schedules;
  Shape run_shape;  // matrix-level shape (a proxy when smaller than key)
  // [spectrum][schedule]; entries of schedules without a spectral model stay default
  std::vector<std::vector<SpectralError>> spectral;
  std::vector<MatrixRun> runs;  // [matrix]
};

void validate(const AuditOptions& o) {
  ROOTOPT_CHECK(!o.model_path.empty(), "audit needs a model config (--model)");
  ROOTOPT_CHECK(o.samples >= 1 && o.samples <= 100000, "--samples must be in 1..100000, got ",
                o.samples);
  ROOTOPT_CHECK(o.matrix_samples >= 1 && o.matrix_samples <= 10000,
                "--matrix-samples must be in 1..10000, got ", o.matrix_samples);
  ROOTOPT_CHECK(o.proxy_rank >= 2 && o.proxy_rank <= kMaxProxyRank, "--proxy-rank must be in 2..",
                kMaxProxyRank, ", got ", o.proxy_rank);
  ROOTOPT_CHECK(o.envelope_bound == 0 || (o.envelope_bound >= 1 && std::isfinite(o.envelope_bound)),
                "--envelope-bound must be 0 (the default) or a finite bound >= 1, got ",
                o.envelope_bound);
  ROOTOPT_CHECK(o.threads >= 0 && o.threads <= 1024, "--threads must be in 0..1024, got ",
                o.threads);
}

// Work estimate of one matrix-level task, in units of 2^20 multiply-adds: every recipe's GEMMs
// (the cost model's CPU profile, relative to Polar Express's 5 steps of X X^T, A A and B X) and
// the SVDs of the reference and of each result.
int64_t matrix_cost(Shape s, const std::vector<ResolvedSchedule>& schedules) {
  const double r = double(s.rank()), c = double(std::max(s.rows, s.cols));
  const double polar_express = 5 * (2 * r * r * c + r * r * r);
  double relative = 0;
  for (const ResolvedSchedule& schedule : schedules)
    relative += recipe_cost(schedule.recipe, s, Precision::bf16, kCpuProfile);
  const double svds = 8 * r * r * c * double(schedules.size() + 1) / 2;
  return 1 + int64_t((polar_express * relative + svds) / double(1 << 20));
}

std::vector<SpectralError> errors_on(const std::vector<ResolvedSchedule>& schedules,
                                     const Spectrum& s) {
  std::vector<SpectralError> errors(schedules.size());
  for (size_t j = 0; j < schedules.size(); ++j)
    if (schedules[j].spectral()) errors[j] = spectral_error(schedules[j].recipe, s);
  return errors;
}

// The polar reference of a (proxy) matrix built from `spectrum`, and the schedules run on it.
MatrixRun run_on_spectrum(const Unit& unit, const Spectrum& spectrum, uint64_t seed,
                          Precision precision) {
  const Spectrum s = unit.run_shape == unit.key.canonical()
                         ? spectrum
                         : normalised_spectrum(rescale_spectrum(spectrum, unit.run_shape.rank()));
  const Eigen::MatrixXd b = matrix_with_spectrum(unit.run_shape, s, seed);
  const PolarFactor reference = make_cpu_polar_solver()->polar(b);
  return run_schedules(b, reference, unit.schedules, precision);
}

void add_sampled_tasks(Unit& unit, const SpectrumMixture& mixture, const AuditOptions& o,
                       std::vector<Task>& heavy, std::vector<Task>& light) {
  const uint64_t shape_seed = audit_shape_seed(o.seed, unit.key);
  unit.spectral.resize(size_t(o.samples));
  unit.runs.resize(size_t(o.matrix_samples));
  for (int64_t i = 0; i < o.samples; ++i) {
    const bool matrix = i < o.matrix_samples;
    auto run = [&unit, &mixture, shape_seed, i, matrix, precision = o.precision]() {
      const Spectrum s = mixture.sample(unit.key, shape_seed, i);
      unit.spectral[size_t(i)] = errors_on(unit.schedules, s);
      if (matrix)
        unit.runs[size_t(i)] = run_on_spectrum(unit, s, matrix_seed(shape_seed, i), precision);
    };
    if (matrix)
      heavy.push_back({run, matrix_cost(unit.run_shape, unit.schedules)});
    else
      light.push_back({run, 1});
  }
}

void add_user_tasks(Unit& unit, const UserMatrices& user, const AuditOptions& o,
                    std::vector<Task>& heavy) {
  unit.spectral.resize(unit.datasets.size());
  unit.runs.resize(unit.datasets.size());
  for (size_t k = 0; k < unit.datasets.size(); ++k) {
    const Eigen::MatrixXd& b = user.matrices[size_t(unit.datasets[k])].values;
    auto run = [&unit, &b, k, seed = o.seed, precision = o.precision]() {
      if (unit.run_shape == unit.key) {  // small enough: iterate on the user's matrix itself
        const PolarFactor reference = make_cpu_polar_solver()->polar(b);
        unit.spectral[k] =
            errors_on(unit.schedules, normalised_spectrum(reference.singular_values));
        unit.runs[k] = run_schedules(b, reference, unit.schedules, precision);
        return;
      }
      // Too large to iterate: its exact spectrum (singular values only), then a proxy matrix
      // with that spectrum rescaled to the proxy's rank.
      const Eigen::BDCSVD<Eigen::MatrixXd> svd(b);
      const Eigen::VectorXd& sv = svd.singularValues();
      const Spectrum s = normalised_spectrum(std::vector<double>(sv.data(), sv.data() + sv.size()));
      unit.spectral[k] = errors_on(unit.schedules, s);
      unit.runs[k] = run_on_spectrum(unit, s, matrix_seed(seed, int64_t(k)), precision);
    };
    const Shape full = unit.key;
    heavy.push_back({run, matrix_cost(unit.run_shape, unit.schedules) +
                              int64_t(8 * double(full.rank()) * double(full.rank()) *
                                      double(full.cols) / double(1 << 20))});
  }
}

ScheduleAudit summarise(const Unit& unit, size_t j, double bound,
                        std::map<std::vector<double>, SpectralAudit>& safety) {
  ScheduleAudit out;
  const ResolvedSchedule& resolved = unit.schedules[j];
  out.schedule = resolved.name;
  out.recipe = resolved.recipe.describe();
  out.cost = recipe_cost(resolved.recipe, unit.key, Precision::bf16, kGpuProfile);
  out.origin = resolved.origin;
  out.fallback = resolved.fallback;
  // The envelope is a property of the coefficients on [0, 1], whatever the normalization (each
  // of them puts the spectrum into [0, 1]); computed once per distinct schedule.
  std::vector<double> coefficients;
  for (const QuinticStep& st : resolved.recipe.schedule.steps())
    coefficients.insert(coefficients.end(), {st.a, st.b, st.c});
  auto cached = safety.find(coefficients);
  if (cached == safety.end()) {
    SpectralAudit computed;
    add_safety(resolved.recipe.schedule, computed);
    cached = safety.emplace(coefficients, computed).first;
  }
  out.spectral = cached->second;
  if (resolved.spectral()) {
    std::vector<SpectralError> errors;
    for (const auto& per_spectrum : unit.spectral) errors.push_back(per_spectrum.at(j));
    add_spectral_errors(errors, out.spectral);
  } else {
    mark_not_applicable(out.spectral);
  }
  if (out.fallback) out.flags.push_back("fallback");
  if (out.spectral.envelope_max > bound) out.flags.push_back("unsafe-envelope");
  if (goes_negative(out.spectral)) out.flags.push_back("unsafe-negative");
  out.unsafe = is_unsafe(out.spectral, bound);
  out.matrix.shape = unit.run_shape;
  out.matrix.proxy = unit.run_shape != unit.key;
  add_matrix_runs(unit.runs, j, out.matrix);
  out.matrix.exact_from_spectrum = resolved.spectral();
  // Rounding can push singular values past the exact envelope (a warning, not the safety rule).
  if (out.matrix.max_sv > bound) out.flags.push_back("matrix-over-bound");
  return out;
}

}  // namespace
}  // namespace audit

AuditReport run_audit(const AuditOptions& requested, const AuditProgress& progress) {
  using namespace audit;
  validate(requested);
  AuditOptions options = requested;  // matrices use the first spectra: at most `samples` of them
  options.matrix_samples = std::min(options.matrix_samples, options.samples);
  const ModelConfig model = load_model_config(options.model_path);
  const ScheduleSet schedules({options.table_path, options.schedules, options.steps});
  AuditReport report;
  report.schedules = schedules.names();
  const std::optional<double> table_bound =
      schedules.table() ? table_envelope_bound(*schedules.table()) : std::nullopt;
  report.envelope_bound = options.envelope_bound > 0 ? options.envelope_bound
                          : table_bound              ? *table_bound
                                                     : kDefaultEnvelopeBound;
  std::optional<UserMatrices> user;
  if (!options.matrices_path.empty()) user = load_user_matrices(options.matrices_path, model);
  const SpectrumMixture mixture = SpectrumMixture::default_mixture();

  // Units: one per canonical shape (sampled), or one per distinct set of matched matrices.
  std::vector<std::unique_ptr<Unit>> units;
  std::vector<int64_t> unit_of(model.weights.size(), -1);
  std::map<std::pair<Shape, std::vector<int64_t>>, int64_t> index;
  for (size_t w = 0; w < model.weights.size(); ++w) {
    const ModelWeight& weight = model.weights[w];
    std::vector<int64_t> datasets = user ? user->by_weight[w] : std::vector<int64_t>{};
    if (weight.adamw || (user && datasets.empty())) continue;
    const auto key = std::make_pair(weight.key(), datasets);
    auto found = index.find(key);
    if (found == index.end()) {
      auto unit = std::make_unique<Unit>();
      unit->key = weight.key();
      unit->datasets = datasets;
      unit->schedules = schedules.resolve(unit->key);
      unit->run_shape = proxy_shape(unit->key, options.proxy_rank);
      found = index.emplace(key, int64_t(units.size())).first;
      units.push_back(std::move(unit));
    }
    unit_of[w] = found->second;
  }
  ROOTOPT_CHECK(!units.empty(), "nothing to audit in ", options.model_path,
                user ? " (no matrix of --matrices matched an orthogonalized weight)" : "");

  // Expensive matrix tasks first, largest first, so the pool ends with short tasks.
  std::vector<Task> heavy, light;
  for (auto& unit : units)
    user ? add_user_tasks(*unit, *user, options, heavy)
         : add_sampled_tasks(*unit, mixture, options, heavy, light);
  std::stable_sort(heavy.begin(), heavy.end(),
                   [](const Task& x, const Task& y) { return x.cost > y.cost; });
  heavy.insert(heavy.end(), light.begin(), light.end());
  {
    // Each worker runs its own LAPACK SVDs: one OpenBLAS thread each while they run.
    const detail::ScopedBlasThreads blas(options.threads == 1 ? 0 : 1);
    run_parallel(heavy, options.threads, progress);
  }

  std::map<std::vector<double>, SpectralAudit> safety;
  std::vector<std::vector<ScheduleAudit>> summaries(units.size());
  for (size_t u = 0; u < units.size(); ++u)
    for (size_t j = 0; j < units[u]->schedules.size(); ++j)
      summaries[u].push_back(summarise(*units[u], j, report.envelope_bound, safety));

  for (size_t w = 0; w < model.weights.size(); ++w) {
    AuditRow row;
    row.weight = model.weights[w];
    const int64_t u = unit_of[w];
    row.audited = u >= 0;
    if (row.weight.adamw) {
      row.source = "not audited: left to AdamW";
    } else if (!row.audited) {
      row.source = "not audited: no matrix in --matrices";
    } else {
      row.results = summaries[size_t(u)];
      row.source = user ? describe_datasets(*user, units[size_t(u)]->datasets) : "sampled";
    }
    report.rows.push_back(row);
  }
  report.provenance = audit_provenance(
      {options, model, schedules, mixture, report.envelope_bound, table_bound.has_value()});
  return report;
}

}  // namespace rootopt
