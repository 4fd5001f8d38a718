// rootopt eval --schedule NAME | --table T --shape MxN: how far a recipe's output is from the
// polar factor on sampled momentum spectra. Spectral level (exact arithmetic, many samples) and
// matrix level (the recipe's arithmetic in the chosen precision against an fp64 SVD, a few
// matrices). A built-in schedule runs as the recipe the flags describe (normalization, form,
// restarts, tail); a table's shape runs its stored recipe.
#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <string>
#include <vector>

#include "commands.h"
#include "rootopt/coefficient_table.h"
#include "rootopt/cost_model.h"
#include "rootopt/error.h"
#include "rootopt/hdf5_matrices.h"
#include "rootopt/matrix_reference.h"
#include "rootopt/spectrum_family.h"

namespace rootopt::cli {
namespace {

struct EvalOptions {
  std::string schedule;
  std::string table;
  std::string shape;
  std::string family = "default";
  int64_t samples = 256;
  int64_t matrix_samples = 3;
  int64_t proxy_rank = 256;
  uint64_t seed = 0;
  std::string precision = "bf16";
  int64_t steps = 5;
  bool steps_given = false;
  std::string matrix_file;  // matrix level on these user matrices instead of sampled ones
  // The recipe around a built-in schedule (with --table: must agree with the stored recipe).
  std::string normalization = "frobenius";
  std::string form = "standard";
  std::vector<int64_t> restarts;
  int64_t tail_steps = 0;
  std::string tail_precision = "fp32";
  std::vector<std::string> recipe_flags_given;  // "--form", ... as given on the command line
};

// The recipe the flags describe around `schedule`, validated (aol accepted: matrix level only).
Recipe flag_recipe(const EvalOptions& o, Schedule schedule) {
  Recipe recipe(std::move(schedule));
  recipe.normalization = parse_normalization(o.normalization);
  recipe.form = parse_iteration_form(o.form);
  recipe.restarts = o.restarts;
  recipe.tail_steps = o.tail_steps;
  recipe.tail_precision = parse_precision(o.tail_precision);
  recipe.validate("eval recipe", /*matrix_level=*/true);
  return recipe;
}

// With --table, a recipe flag given on the command line must agree with the stored recipe (as
// --steps must): the table's recipe is what is evaluated.
void check_table_recipe(const EvalOptions& o, const Recipe& stored, Shape shape) {
  const Recipe wanted = flag_recipe(o, stored.schedule);
  for (const std::string& flag : o.recipe_flags_given) {
    const bool agrees = flag == "--normalization" ? wanted.normalization == stored.normalization
                        : flag == "--form"        ? wanted.form == stored.form
                        : flag == "--restarts"    ? wanted.restarts == stored.restarts
                        : flag == "--tail-steps"  ? wanted.tail_steps == stored.tail_steps
                                                  : wanted.tail_precision == stored.tail_precision;
    if (!agrees)
      throw Error(fmt::format("{} given, but table {} holds the recipe '{}' for {}", flag, o.table,
                              stored.describe(), to_string(shape)));
  }
}

// The recipe to evaluate and a line saying where it came from.
std::pair<Recipe, std::string> resolve_recipe(const EvalOptions& o, Shape shape) {
  if (!o.table.empty()) {
    const CoefficientTable table = CoefficientTable::load(o.table);
    const RecipeLookup lookup = table.lookup(shape);
    if (o.steps_given && o.steps != lookup.recipe.steps())
      throw Error(fmt::format("--steps {} given, but table {} holds a {}-step schedule for {}",
                              o.steps, o.table, lookup.recipe.steps(), to_string(shape)));
    check_table_recipe(o, lookup.recipe, shape);
    return {lookup.recipe, fmt::format("table {}: {}", o.table, lookup.description())};
  }
  const Recipe recipe = flag_recipe(o, builtin_schedule(o.schedule, shape, o.steps));
  const bool published = builtin_is_published_for(o.schedule, shape);
  return {recipe, fmt::format("built-in '{}'{}", o.schedule,
                              published ? ""
                                        : " (no published coefficients for this shape: "
                                          "Muon's triple)")};
}

SpectrumMixture resolve_mixture(const std::string& family) {
  return family == "default" ? SpectrumMixture::default_mixture() : SpectrumMixture::parse(family);
}

void print_schedule(const Schedule& schedule) {
  for (int64_t k = 0; k < schedule.size(); ++k)
    fmt::print("  step {}: a = {}  b = {}  c = {}\n", k + 1, schedule[k].a, schedule[k].b,
               schedule[k].c);
}

void print_spectral(const Recipe& recipe, const std::vector<Spectrum>& spectra) {
  const Schedule& schedule = recipe.schedule;
  fmt::print("\nspectral level ({} sampled spectra, exact arithmetic, {} normalization):\n",
             spectra.size(), to_string(recipe.normalization));
  if (recipe.normalization == Normalization::aol) {
    fmt::print("  aol changes the singular vectors: no spectral model (matrix level below)\n");
  } else {
    double sum_rms = 0, worst_rms = 0, max_dev = 0, lo = 1e300, hi = -1e300;
    for (const Spectrum& s : spectra) {
      const SpectralError e = spectral_error(recipe, s);
      sum_rms += e.rms, worst_rms = std::max(worst_rms, e.rms),
                        max_dev = std::max(max_dev, e.max_dev);
      lo = std::min(lo, e.min_value), hi = std::max(hi, e.max_value);
    }
    fmt::print("  mean RMS deviation  {:.5f}   (||X_K - UV^T||_F / sqrt(r))\n",
               sum_rms / double(spectra.size()));
    fmt::print("  worst RMS deviation {:.5f}\n  max |p(s) - 1|      {:.5f}\n", worst_rms, max_dev);
    fmt::print("  range of p(s)       [{:.5f}, {:.5f}]\n", lo, hi);
  }
  const Envelope env = envelope(schedule);
  const std::vector<double> minima = step_minima(schedule);
  fmt::print("  envelope on [0, 1]  max {:.5f} at s = {:.5f}, min {:.5f} at s = {:.5f}\n",
             env.max_value, env.argmax, env.min_value, env.argmin);
  std::string text;
  for (double m : minima) text += fmt::format(" {:.4f}", m);
  fmt::print("  per-step minima    {}\n", text);
}

// GEMM cost against Polar Express as deployed, in bf16 working precision (cost_model.h).
void print_cost(const Recipe& recipe, Shape shape) {
  fmt::print(
      "cost:      {:.3f}x Polar Express as deployed on a GPU, {:.3f}x on the CPU backend "
      "(GEMM flops, bf16 working precision)\n",
      recipe_cost(recipe, shape, Precision::bf16, kGpuProfile),
      recipe_cost(recipe, shape, Precision::bf16, kCpuProfile));
}

// One matrix of the matrix level: where it came from, and the recipe for its shape.
struct MatrixCase {
  std::string label;
  Eigen::MatrixXd b;
  Recipe recipe;
};

// Sampled from the mixture at `shape`, or at a proxy shape with the same aspect ratio.
std::vector<MatrixCase> sampled_cases(const EvalOptions& o, const Recipe& recipe,
                                      const SpectrumMixture& mixture, Shape shape) {
  const Shape proxy = proxy_shape(shape, o.proxy_rank);
  if (proxy != shape.canonical())
    fmt::print("  proxy shape {} with the aspect ratio of {} (--proxy-rank {})\n", to_string(proxy),
               to_string(shape), o.proxy_rank);
  std::vector<MatrixCase> cases;
  for (int64_t i = 0; i < o.matrix_samples; ++i) {
    const Spectrum s = mixture.sample(proxy, o.seed + 1, i);
    cases.push_back({fmt::format("sample {} ({})", i + 1, to_string(proxy)),
                     matrix_with_spectrum(proxy, s, o.seed + 1000 + uint64_t(i)), recipe});
  }
  return cases;
}

// Every 2-D float dataset of a user file, each with the recipe for its own shape.
std::vector<MatrixCase> file_cases(const EvalOptions& o) {
  std::vector<MatrixCase> cases;
  for (NamedMatrix& m : read_matrices(o.matrix_file)) {
    const Shape shape{m.values.rows(), m.values.cols()};
    cases.push_back({m.name + " (" + to_string(shape) + ")", std::move(m.values),
                     resolve_recipe(o, shape).first});
  }
  return cases;
}

// One row of the matrix level: the recipe's error in `precision` and in fp64, the spectral
// prediction, the extreme singular values of the result.
std::string matrix_row(const MatrixCase& c, Precision precision, const PolarFactor& reference) {
  const Eigen::MatrixXd x = newton_schulz(c.b, c.recipe, precision);
  const MatrixError e64 = matrix_error(newton_schulz(c.b, c.recipe, Precision::fp64), reference);
  if (!x.allFinite())  // e.g. the Gram form's drift in bf16 (docs/recipes.md)
    return fmt::format("{:>12}  {:>12.6f}", "non-finite", e64.rms);
  const MatrixError e = matrix_error(x, reference);
  // aol has no spectral model (and its exact result is not the polar factor of B).
  const std::string predicted =
      c.recipe.normalization == Normalization::aol
          ? std::string("-")
          : fmt::format(
                "{:.6f}",
                spectral_error(c.recipe, normalised_spectrum(reference.singular_values)).rms);
  return fmt::format("{:>12.6f}  {:>12.6f}  {:>12}  {:>10.5f}  {:>10.5f}", e.rms, e64.rms,
                     predicted, e.min_sv, e.max_sv);
}

void print_matrix_level(const std::vector<MatrixCase>& cases, Precision precision) {
  const auto solver = make_best_polar_solver();
  size_t width = 6;
  for (const MatrixCase& c : cases) width = std::max(width, c.label.size());
  fmt::print("  {:<{}}  {:>12}  {:>12}  {:>12}  {:>10}  {:>10}\n", "matrix", width,
             "RMS (" + to_string(precision) + ")", "RMS (fp64)", "predicted", "min sv", "max sv");
  const auto start = std::chrono::steady_clock::now();
  for (size_t i = 0; i < cases.size(); ++i) {
    const MatrixCase& c = cases[i];
    const PolarFactor reference = solver->polar(c.b);
    fmt::print("  {:<{}}  {}\n", c.label, width, matrix_row(c, precision, reference));
    const double elapsed =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    std::fprintf(stderr, "\rmatrix %zu/%zu, %.1f s elapsed, ETA %.1f s   ", i + 1, cases.size(),
                 elapsed, elapsed / double(i + 1) * double(cases.size() - i - 1));
  }
  if (!cases.empty()) std::fprintf(stderr, "\n");
  fmt::print("  (SVD by {}; 'predicted' is the spectral RMS of the matrix's own spectrum)\n",
             solver->name());
}

// Limits checked before any work: beyond them a run exhausts memory or never ends. The spectral
// level holds samples x rank values (8 bytes each); each matrix costs an fp64 SVD of a proxy.
constexpr int64_t kMaxSamples = 100000;
constexpr int64_t kMaxSpectrumValues = int64_t{1} << 28;  // 2 GiB of spectra
constexpr int64_t kMaxMatrices = 10000;
constexpr int64_t kMaxSteps = 64;

void check_sizes(const EvalOptions& o, Shape shape) {
  if (o.samples < 1 || o.samples > kMaxSamples)
    throw Error(fmt::format("--samples must be in 1..{}, got {}", kMaxSamples, o.samples));
  if (o.samples > kMaxSpectrumValues / shape.rank())
    throw Error(fmt::format(
        "--samples {} spectra of rank {} ({}) are {} values, above the limit of 2^28: use "
        "--samples {} or fewer for this shape",
        o.samples, shape.rank(), to_string(shape), o.samples * shape.rank(),
        kMaxSpectrumValues / shape.rank()));
  if (o.steps < 1 || o.steps > kMaxSteps)
    throw Error(fmt::format("--steps must be in 1..{}, got {}", kMaxSteps, o.steps));
  if (o.matrix_samples < 0 || o.matrix_samples > kMaxMatrices)
    throw Error(
        fmt::format("--matrix-samples must be in 0..{}, got {}", kMaxMatrices, o.matrix_samples));
  if (o.proxy_rank < 2 || o.proxy_rank > kMaxProxyRank)
    throw Error(fmt::format("--proxy-rank must be in 2..{}, got {}", kMaxProxyRank, o.proxy_rank));
}

void run_eval(const EvalOptions& o) {
  const Shape shape = parse_shape(o.shape);
  check_sizes(o, shape);
  const Precision precision = parse_precision(o.precision);
  const auto [recipe, origin] = resolve_recipe(o, shape);
  const SpectrumMixture mixture = resolve_mixture(o.family);
  fmt::print("shape:     {} (rank {})\nschedule:  {}, {} steps\nrecipe:    {}\n", to_string(shape),
             shape.rank(), origin, recipe.steps(), recipe.describe());
  print_schedule(recipe.schedule);
  print_cost(recipe, shape);
  fmt::print("spectra:   {}\nseed:      {}\n", mixture.describe(), o.seed);
  print_spectral(recipe, mixture.sample_many(shape, o.seed, o.samples));
  fmt::print("\nmatrix level (the recipe in {} working precision vs fp64 SVD polar factor):\n",
             to_string(precision));
  print_matrix_level(
      o.matrix_file.empty() ? sampled_cases(o, recipe, mixture, shape) : file_cases(o), precision);
}

}  // namespace

void add_eval_command(CLI::App& app) {
  auto options = std::make_shared<EvalOptions>();
  CLI::App* cmd = app.add_subcommand(
      "eval", "Error of a Newton-Schulz recipe on sampled spectra, spectral and matrix level");
  auto* source = cmd->add_option_group("schedule source");
  source->add_option("--schedule", options->schedule,
                     "built-in schedule: muon, polar-express, you, root-paper");
  source->add_option("--table", options->table, "coefficient table (.h5); the shape is looked up");
  source->require_option(1);
  cmd->add_option("--shape", options->shape, "matrix shape MxN, e.g. 1024x4096")->required();
  cmd->add_option("--family", options->family,
                  "spectrum family or mixture, e.g. 'captured', 'power-law*2,low-rank', "
                  "'captured:set=heldout' (default: the default mixture)")
      ->capture_default_str();
  cmd->add_option("--samples", options->samples, "spectra for the spectral level")
      ->capture_default_str();
  cmd->add_option("--matrix-samples", options->matrix_samples,
                  "sampled matrices for the matrix level")
      ->capture_default_str();
  cmd->add_option("--proxy-rank", options->proxy_rank,
                  "the matrix level of a shape of higher rank runs on a proxy of this rank with "
                  "the same aspect ratio (as in audit)")
      ->capture_default_str();
  cmd->add_option("--matrices", options->matrix_file,
                  "HDF5 file whose 2-D float datasets (e.g. captured momentum buffers) replace "
                  "the sampled matrices; each uses the schedule for its own shape")
      ->check(CLI::ExistingFile);
  cmd->add_option("--seed", options->seed, "sampling seed")->capture_default_str();
  cmd->add_option("--precision", options->precision,
                  "matrix-level working precision: fp64, fp32, tf32, bf16 (a tail runs finer)")
      ->capture_default_str();
  auto* steps = cmd->add_option("--steps", options->steps, "steps of a built-in schedule")
                    ->capture_default_str();
  // The recipe (docs/recipes.md). With --table, given values must match the stored recipe.
  std::vector<CLI::Option*> recipe_flags{
      cmd->add_option("--normalization", options->normalization,
                      "frobenius, schatten4, schatten8, or aol (Turbo-Muon; matrix level only)")
          ->capture_default_str(),
      cmd->add_option("--form", options->form, "iteration form: standard or gram")
          ->capture_default_str(),
      cmd->add_option("--restarts", options->restarts,
                      "gram form: restart after these steps, e.g. 2,4")
          ->delimiter(','),
      cmd->add_option("--tail-steps", options->tail_steps,
                      "the last N steps run in --tail-precision when it is finer")
          ->capture_default_str(),
      cmd->add_option("--tail-precision", options->tail_precision, "tail precision: tf32 or fp32")
          ->capture_default_str()};
  cmd->callback([options, steps, recipe_flags]() {
    options->steps_given = steps->count() > 0;
    for (const CLI::Option* flag : recipe_flags)
      if (flag->count() > 0) options->recipe_flags_given.push_back(flag->get_name());
    run_eval(*options);
  });
}

}  // namespace rootopt::cli
