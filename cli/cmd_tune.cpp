// rootopt tune --model CONFIG.json | --shapes 1024x4096,... --out TABLE.h5 [options]:
// chooses and fits a recipe per canonical shape (tuner.h), a progress line per shape with ETA on
// stderr, a summary table against the built-in schedules at the end. SIGINT stops after saving
// the finished shapes; --resume continues such a table.
#include <fmt/core.h>

#include <algorithm>
#include <atomic>
#include <charconv>
#include <cmath>
#include <csignal>
#include <memory>
#include <sstream>
#include <string>

#include "commands.h"
#include "rootopt/error.h"
#include "rootopt/model_config.h"
#include "rootopt/tuner.h"

namespace rootopt::cli {
namespace {

// What the options struct cannot hold directly (texts parsed below, and the run's own options).
struct TuneArgs {
  std::string model;
  std::string shapes;
  std::string out;
  std::string normalization = "schatten8";
  std::string form = "standard";  // Gram is opt-in (RecipeSpace::forms)
  std::string tails = "auto";
  std::string mode = "per-step";
  std::string families;
  std::string matrices;
  double matrices_weight = 1.0;
  std::string heldout = "captured:set=heldout";
  bool resume = false;
  bool force = false;
  int64_t threads = 0;  // all cores, as audit --threads
  TuneOptions options;  // numeric options are bound to it directly: its defaults are the CLI's
};

// Set by SIGINT; std::atomic<bool> is lock-free, so storing to it is async-signal-safe.
std::atomic<bool> g_interrupted{false};
extern "C" void on_sigint(int) { g_interrupted.store(true); }

// Installs the SIGINT handler for the duration of a run and restores the previous one.
class SigintGuard {
 public:
  SigintGuard() {
    g_interrupted = false;
    struct sigaction action {};
    action.sa_handler = on_sigint;
    sigemptyset(&action.sa_mask);
    sigaction(SIGINT, &action, &previous_);
  }
  ~SigintGuard() { sigaction(SIGINT, &previous_, nullptr); }
  SigintGuard(const SigintGuard&) = delete;
  SigintGuard& operator=(const SigintGuard&) = delete;

 private:
  struct sigaction previous_ {};
};

// Integer options parsed strictly: decimal digits only, no silent wrap of a negative number into
// an unsigned one and no clamping of an out-of-range one (CLI11 2.1's strtoull does both).
template <typename T>
CLI::Option* add_integer(CLI::App* cmd, const std::string& name, T& target,
                         const std::string& help) {
  return cmd
      ->add_option_function<std::string>(
          name,
          [name, &target](const std::string& text) {
            T value{};
            const auto [end, error] =
                std::from_chars(text.data(), text.data() + text.size(), value);
            if (error == std::errc::result_out_of_range)
              throw CLI::ValidationError(name, "'" + text + "' is out of range");
            if (error != std::errc() || end != text.data() + text.size())
              throw CLI::ValidationError(name, "'" + text + "' is not an integer");
            target = value;
          },
          help)
      ->default_str(std::to_string(target));
}

// --families / --matrices / --matrices-weight -> the fitting mixture. With --matrices, a
// weight of 1 fits to the user's matrices only; a weight w < 1 draws that fraction of the
// fitting samples from them and the rest from the families.
std::shared_ptr<SpectrumMixture> fitting_mixture(const TuneArgs& a) {
  auto mixture = std::make_shared<SpectrumMixture>(
      a.families.empty() ? SpectrumMixture::default_mixture() : SpectrumMixture::parse(a.families));
  if (a.matrices.empty()) return mixture;
  if (!(a.matrices_weight > 0 && a.matrices_weight <= 1))
    throw Error(fmt::format("--matrices-weight must be in (0, 1], got {}", a.matrices_weight));
  std::shared_ptr<const SpectrumFamily> user = make_captured_family({a.matrices});
  if (a.matrices_weight == 1.0) {
    if (!a.families.empty())
      throw Error(
          "--families with --matrices-weight 1 (matrices only): give a weight below 1 "
          "to mix the matrices with the families");
    auto only = std::make_shared<SpectrumMixture>();
    only->add(user, 1.0);
    return only;
  }
  double others = 0;
  for (const auto& component : mixture->components()) others += component.second;
  mixture->add(user, others * a.matrices_weight / (1.0 - a.matrices_weight));
  return mixture;
}

std::vector<Normalization> parse_normalizations(const std::string& text) {
  if (text == "auto")
    return {Normalization::frobenius, Normalization::schatten4, Normalization::schatten8};
  const Normalization n = parse_normalization(text);
  if (n == Normalization::aol)
    throw Error(
        "--normalization aol: AOL changes the singular vectors; tables and the runtime "
        "cannot use it (frobenius, schatten4, schatten8, auto)");
  return {n};
}

std::vector<IterationForm> parse_forms(const std::string& text) {
  if (text == "auto") return {IterationForm::standard, IterationForm::gram};
  return {parse_iteration_form(text)};
}

TuneOptions tune_options(const TuneArgs& a) {
  TuneOptions o = a.options;
  try {
    o.recipes.normalizations = parse_normalizations(a.normalization);
  } catch (const Error& e) {
    throw Error(std::string("--normalization: ") + e.what());
  }
  try {
    o.recipes.forms = parse_forms(a.form);
  } catch (const Error& e) {
    throw Error(std::string("--form: ") + e.what() + " (or auto)");
  }
  if (a.tails != "auto" && a.tails != "none")
    throw Error("--tails: '" + a.tails + "' is neither auto nor none");
  o.recipes.precision_tails = a.tails == "auto";
  o.mode = parse_tune_mode(a.mode);
  o.mixture = fitting_mixture(a);
  if (a.heldout != "none") o.heldout_real = make_family(a.heldout);
  o.validation.enabled = o.validation.matrices > 0 || o.validation.selection_matrices > 0;
  return o;
}

// The CLI's name for a TuneOptions/TuneRunOptions field.
std::string flag_of(const std::string& field) {
  static const std::map<std::string, std::string> flags{
      {"steps", "--steps"},
      {"normalizations", "--normalization"},
      {"forms", "--form"},
      {"budget", "--budget"},
      {"recipes.budget", "--budget"},
      {"samples", "--samples"},
      {"heldout_samples", "--heldout-samples"},
      {"envelope_bound", "--envelope-bound"},
      {"mixture", "--families"},
      {"random_starts", "--random-starts"},
      {"safety_margin", "--safety-margin"},
      {"guard", "--guard"},
      {"validation_matrices", "--validation-matrices/--selection-matrices"},
      {"validation_max_rank", "--proxy-rank"},
      {"threads", "--threads"},
      {"out_path", "--out"},
      {"mode", "--mode"},
      {"search.local", "--local"},
      {"search.global", "--global"}};
  const auto it = flags.find(field);
  return it == flags.end() ? field : it->second;
}

std::string number(double v) { return std::isfinite(v) ? fmt::format("{:.4f}", v) : "-"; }
std::string ratio(double v) { return std::isfinite(v) ? fmt::format("x{:.3f}", v) : "-"; }

void print_progress(const TuneProgress& p) {
  const auto& m = p.result->metrics;
  const auto value = [&m](const char* name) {
    const auto it = m.find(name);
    return it == m.end() ? NAN : it->second;
  };
  // Why this recipe: its bf16 error on the selection matrices against the best standard-form
  // candidate's and Polar Express's (as deployed) on the same matrices.
  const std::string why =
      std::isfinite(value("selection_bf16_rms"))
          ? fmt::format(" | selected: bf16 {} vs best standard-form {}, Polar Express {}",
                        number(value("selection_bf16_rms")),
                        number(value("best_standard_selection_bf16_rms")),
                        number(value("polar_express_selection_bf16_rms")))
          : "";
  // Why others were not: every candidate refused as unsafe in bf16, one line each below.
  const std::vector<std::string>& refused = p.result->refused;
  const std::string refusals =
      refused.empty() ? std::string()
                      : fmt::format(" | refused {} of {} candidates as unsafe in bf16 (below)",
                                    refused.size(), value("candidates"));
  fmt::print(stderr,
             "[{}/{}] {:>11}  {} (cost {:.2f}){}{} | held-out {} {}, real {} {}, bf16 {} {} | "
             "{:.1f} s, elapsed {:.0f} s, ETA {:.0f} s\n",
             p.done, p.total, to_string(p.result->shape), p.result->recipe.describe(),
             value("cost"), why, refusals, number(value("heldout_rms")),
             ratio(value("heldout_ratio")), number(value("heldout_real_rms")),
             ratio(value("heldout_real_ratio")), number(value("bf16_matrix_rms")),
             ratio(value("bf16_matrix_ratio")), value("tune_seconds"), p.elapsed_seconds,
             p.eta_seconds);
  for (const std::string& line : refused) fmt::print(stderr, "    refused {}\n", line);
}

void print_summary(const CoefficientTable& table) {
  auto column = [&](int64_t i, const std::string& name) {
    return table.metric(i, name).value_or(NAN);
  };
  size_t width = 6;  // "recipe"
  for (int64_t i = 0; i < table.size(); ++i)
    width = std::max(width, table.recipe(i).describe().size());
  fmt::print(
      "{:>11} | {:<{}} {:>5} {:>7} | {:>8} {:>7} {:>7} | {:>8} {:>7} | {:>8} {:>7} | {:>8}\n",
      "shape", "recipe", width, "cost", "refused", "held-out", "ratio", "PE-same", "real", "ratio",
      "bf16", "ratio", "envelope");
  for (int64_t i = 0; i < table.size(); ++i) {
    const double same = column(i, "polar_express_same_norm_heldout_rms");
    const double refused = column(i, "candidates_refused"), candidates = column(i, "candidates");
    const std::string refusals = std::isfinite(refused) && std::isfinite(candidates)
                                     ? fmt::format("{}/{}", int64_t(refused), int64_t(candidates))
                                     : std::string("-");
    fmt::print(
        "{:>11} | {:<{}} {:>5.2f} {:>7} | {:>8} {:>7} {:>7} | {:>8} {:>7} | {:>8} {:>7} | {:>8}\n",
        to_string(table.shapes()[size_t(i)]), table.recipe(i).describe(), width, column(i, "cost"),
        refusals, number(column(i, "heldout_rms")), ratio(column(i, "heldout_ratio")),
        ratio(column(i, "heldout_rms") / same), number(column(i, "heldout_real_rms")),
        ratio(column(i, "heldout_real_ratio")), number(column(i, "bf16_matrix_rms")),
        ratio(column(i, "bf16_matrix_ratio")), number(column(i, "envelope")));
  }
  fmt::print(
      "recipe: the candidate within the budget with the lowest emulated-bf16 error on the "
      "selection matrices; refused: candidates whose largest bf16 output singular value left the "
      "envelope, or rose above the exact map's by more than a multiple of Polar Express's, on "
      "low-rank or captured inputs (listed under each progress line, with the limit). held-out: "
      "RMS "
      "orthogonality error in exact arithmetic on fresh mixture spectra (real: held-out captured "
      "spectra); bf16: emulated bf16 iterations on fresh held-out matrices vs an fp64 SVD polar "
      "factor. ratio = tuned / best built-in as deployed (muon, polar-express, you, root-paper "
      "where published: 5 steps, frobenius); PE-same = tuned / Polar Express under the recipe's "
      "normalisation. cost: GEMM flops relative to Polar Express, GPU profile.\n");
}

void run(const TuneArgs& a) {
  if (a.model.empty() == a.shapes.empty()) throw Error("give exactly one of --model or --shapes");
  TuneRunOptions run;
  run.shapes = a.model.empty() ? parse_shape_list(a.shapes)
                               : load_model_config(a.model).orthogonalized_shapes();
  run.out_path = a.out;
  run.resume = a.resume;
  run.overwrite = a.force;
  run.threads = a.threads;
  run.on_progress = print_progress;
  try {
    const TuneOptions options = tune_options(a);
    options.validate();
    run.on_start = [&](int64_t todo, int64_t resumed) {
      if (resumed > 0) fmt::print(stderr, "kept {} finished shape(s) from {}\n", resumed, a.out);
      fmt::print(stderr, "tuning {} shape(s): normalization {}, {}, budget {}, {}\n", todo,
                 a.normalization,
                 options.recipes.steps > 0 ? fmt::format("{} steps", options.recipes.steps)
                                           : std::string("steps searched"),
                 options.recipes.budget,
                 run.threads > 0 ? fmt::format("{} threads", run.threads) : "all cores");
    };
    SigintGuard guard;
    run.cancel = &g_interrupted;
    const TuneRunResult result = run_tuning(run, options);
    if (result.table.size() > 0) print_summary(result.table);
    if (result.cancelled)
      throw Error(fmt::format(
          "interrupted: {} finished shape(s) saved in {}; rerun with --resume to continue",
          result.table.size(), a.out));
  } catch (const InvalidTuneOption& e) {
    const std::string hint = e.field() == "out_path" && !a.resume && !a.force
                                 ? " (--force replaces it, --resume continues it)"
                                 : "";
    throw Error(flag_of(e.field()) + ": " + e.what() + hint);
  }
}

}  // namespace

void add_tune_command(CLI::App& app) {
  auto a = std::make_shared<TuneArgs>();
  TuneOptions& o = a->options;
  CLI::App* cmd =
      app.add_subcommand("tune", "Choose and fit a Newton-Schulz recipe per shape into a table");
  cmd->add_option("--model", a->model, "Hugging Face config.json: tune its orthogonalized shapes");
  cmd->add_option("--shapes", a->shapes, "Comma-separated shapes, e.g. 1024x4096,4096x4096");
  cmd->add_option("--out", a->out, "Coefficient table to write (HDF5)")->required();
  cmd->add_flag("--force", a->force, "Replace --out if it exists");
  cmd->add_flag("--resume", a->resume, "Keep the finished shapes of an existing --out table");
  cmd->add_option("--normalization", a->normalization,
                  "frobenius, schatten4, schatten8, or auto (the best of the three per shape)")
      ->capture_default_str();
  add_integer(cmd, "--steps", o.recipes.steps,
              "Newton-Schulz steps K of every recipe (default: chosen within the budget)")
      ->default_str("searched")
      ->check(CLI::Range(int64_t(1), kMaxTuneSteps));
  cmd->add_option("--budget", o.recipes.budget,
                  "Most a recipe may cost, relative to Polar Express (5 standard steps, bf16)")
      ->capture_default_str();
  cmd->add_option(
         "--form", a->form,
         "Iteration form: standard, gram, or auto (both). Gram recipes are opt-in: in bf16 "
         "they drift on real momentum, and the safety check refuses those that do "
         "(docs/tuner.md)")
      ->capture_default_str();
  cmd->add_option("--tails", a->tails, "Precision tails (last steps in tf32/fp32): auto or none")
      ->capture_default_str();
  cmd->add_option("--mode", a->mode, "per-step (3K parameters) or shared (3)")
      ->capture_default_str();
  add_integer(cmd, "--seed", o.seed, "Seed of samples, matrices and random starts");
  add_integer(cmd, "--samples", o.samples, "Fitting spectra per shape");
  add_integer(cmd, "--heldout-samples", o.heldout_samples, "Held-out spectra per shape");
  add_integer(cmd, "--threads", a->threads, "Shapes tuned in parallel (0: all cores)");
  cmd->add_option("--families", a->families,
                  "Fitting mixture, e.g. 'power-law*2,low-rank:rank_fraction_max=0.1' "
                  "(default: the documented default mixture)");
  cmd->add_option("--matrices", a->matrices,
                  "HDF5 file of captured matrices/spectra to fit to (see --matrices-weight)");
  cmd->add_option("--matrices-weight", a->matrices_weight,
                  "Fraction of fitting samples from --matrices; 1 = instead of the families")
      ->capture_default_str();
  cmd->add_option("--heldout", a->heldout, "Real held-out spectra family, or 'none'")
      ->capture_default_str();
  cmd->add_option("--envelope-bound", o.envelope_bound,
                  "Bound on the composed map over [0, 1] (>= 1)")
      ->capture_default_str();
  cmd->add_option("--global", o.search.global, "Global stage: multistart or isres")
      ->capture_default_str();
  cmd->add_option("--local", o.search.local, "Local method: slsqp, mma or cobyla")
      ->capture_default_str();
  add_integer(cmd, "--random-starts", o.search.random_starts,
              "Seeded perturbed starts (multistart)");
  cmd->add_option("--safety-margin", o.search.safety_margin,
                  "Tolerated relative rounding per step (stored p_k(x) = q_k(x/(1+margin)))")
      ->capture_default_str();
  cmd->add_option("--guard", o.search.guard,
                  "Every fitting family's error <= guard x the best anchor's (0: off)")
      ->capture_default_str();
  add_integer(cmd, "--selection-matrices", o.validation.selection_matrices,
              "Held-out matrices per shape the candidate recipes are compared on (bf16)");
  add_integer(cmd, "--validation-matrices", o.validation.matrices,
              "Fresh held-out matrices per shape the result is reported on (0: skip)");
  add_integer(cmd, "--proxy-rank", o.validation.max_rank,
              "Larger shapes are validated on a proxy with the same aspect ratio");
  cmd->callback([a] { run(*a); });
}

}  // namespace rootopt::cli
