// rootopt tune --model CONFIG.json | --shapes 1024x4096,... --out TABLE.h5 [options]:
// fits a schedule per canonical shape (tuner.h), a progress line per shape with ETA on stderr,
// a summary table against the built-in schedules at the end. SIGINT stops after saving the
// finished shapes; --resume continues such a table.
#include <fmt/core.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <csignal>
#include <memory>
#include <sstream>
#include <string>
#include <thread>

#include "commands.h"
#include "rootopt/error.h"
#include "rootopt/model_config.h"
#include "rootopt/tuner.h"

namespace rootopt::cli {
namespace {

struct TuneArgs {
  std::string model;
  std::string shapes;
  std::string out;
  int64_t steps = 5;
  std::string mode = "per-step";
  uint64_t seed = 1;
  int64_t samples = 128;
  int64_t heldout_samples = 256;
  int64_t threads = std::max<int64_t>(1, std::thread::hardware_concurrency());
  std::string families;
  std::string matrices;
  double matrices_weight = 1.0;
  std::string heldout = "captured:set=heldout";
  double envelope = 1.3;
  bool resume = false;
  std::string global = "multistart";
  std::string local = "slsqp";
  int64_t random_starts = 2;
  double safety_margin = 0.01;
  int64_t validation_matrices = 3;
  int64_t validation_max_rank = 256;
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

std::vector<Shape> parse_shape_list(const std::string& text) {
  std::vector<Shape> shapes;
  std::stringstream in(text);
  for (std::string item; std::getline(in, item, ',');) {
    if (item.empty()) throw Error("--shapes: empty entry in '" + text + "'");
    shapes.push_back(parse_shape(item));
  }
  if (shapes.empty()) throw Error("--shapes: no shape given");
  return shapes;
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

TuneOptions tune_options(const TuneArgs& a) {
  TuneOptions o;
  o.steps = a.steps;
  o.mode = parse_tune_mode(a.mode);
  o.seed = a.seed;
  o.samples = a.samples;
  o.heldout_samples = a.heldout_samples;
  o.envelope_bound = a.envelope;
  o.mixture = fitting_mixture(a);
  if (a.heldout != "none") o.heldout_real = make_family(a.heldout);
  o.search.global = a.global;
  o.search.local = a.local;
  o.search.random_starts = a.random_starts;
  o.search.safety_margin = a.safety_margin;
  o.validation.matrices = a.validation_matrices;
  o.validation.max_rank = a.validation_max_rank;
  o.validation.enabled = a.validation_matrices > 0;
  o.validate();
  return o;
}

std::string number(double v) { return std::isfinite(v) ? fmt::format("{:.4f}", v) : "-"; }

void print_progress(const TuneProgress& p) {
  const auto& m = p.result->metrics;
  fmt::print(stderr,
             "[{}/{}] {:>11}  held-out RMS {} (x{} best built-in), real {} (x{}), envelope {}, "
             "{:.1f} s | elapsed {:.0f} s, ETA {:.0f} s\n",
             p.done, p.total, to_string(p.result->shape), number(m.at("heldout_rms")),
             number(m.at("heldout_ratio")), number(m.at("heldout_real_rms")),
             number(m.at("heldout_real_ratio")), number(m.at("envelope")), m.at("tune_seconds"),
             p.elapsed_seconds, p.eta_seconds);
}

void print_summary(const CoefficientTable& table) {
  auto column = [&](int64_t i, const std::string& name) {
    return number(table.metric(i, name).value_or(NAN));
  };
  fmt::print("{:>11} | {:>8} {:>8} {:>8} {:>8} {:>6} | {:>8} {:>8} {:>6} | {:>8}\n", "shape",
             "tuned", "muon", "polar-ex", "root", "ratio", "real", "real-PE", "ratio", "envelope");
  for (int64_t i = 0; i < table.size(); ++i)
    fmt::print("{:>11} | {:>8} {:>8} {:>8} {:>8} {:>6} | {:>8} {:>8} {:>6} | {:>8}\n",
               to_string(table.shapes()[size_t(i)]), column(i, "heldout_rms"),
               column(i, "muon_heldout_rms"), column(i, "polar_express_heldout_rms"),
               column(i, "root_paper_heldout_rms"), column(i, "heldout_ratio"),
               column(i, "heldout_real_rms"), column(i, "polar_express_heldout_real_rms"),
               column(i, "heldout_real_ratio"), column(i, "envelope"));
  fmt::print(
      "held-out RMS orthogonality error (spectral, fp64); ratio = tuned / best of muon, "
      "polar-express, root-paper (where published); real = held-out captured spectra\n");
}

void run(const TuneArgs& a) {
  if (a.model.empty() == a.shapes.empty()) throw Error("give exactly one of --model or --shapes");
  TuneRunOptions run;
  run.shapes = a.model.empty() ? parse_shape_list(a.shapes)
                               : load_model_config(a.model).orthogonalized_shapes();
  run.out_path = a.out;
  run.resume = a.resume;
  run.threads = a.threads;
  run.on_progress = print_progress;
  const TuneOptions options = tune_options(a);
  fmt::print(stderr, "tuning {} shape(s), {} steps {}, {} threads, mixture {}\n", run.shapes.size(),
             options.steps, to_string(options.mode), run.threads, options.mixture->describe());
  SigintGuard guard;
  run.cancel = &g_interrupted;
  const TuneRunResult result = run_tuning(run, options);
  if (result.resumed > 0)
    fmt::print(stderr, "kept {} finished shape(s) from {}\n", result.resumed, a.out);
  if (result.table.size() > 0) print_summary(result.table);
  if (result.cancelled)
    throw Error(
        fmt::format("interrupted: {} finished shape(s) saved in {}; rerun with --resume "
                    "to continue",
                    result.table.size(), a.out));
}

}  // namespace

void add_tune_command(CLI::App& app) {
  auto a = std::make_shared<TuneArgs>();
  CLI::App* cmd = app.add_subcommand("tune", "Fit per-shape Newton-Schulz schedules into a table");
  cmd->add_option("--model", a->model, "Hugging Face config.json: tune its orthogonalized shapes");
  cmd->add_option("--shapes", a->shapes, "Comma-separated shapes, e.g. 1024x4096,4096x4096");
  cmd->add_option("--out", a->out, "Coefficient table to write (HDF5)")->required();
  cmd->add_option("--steps", a->steps, "Newton-Schulz steps K")->capture_default_str();
  cmd->add_option("--mode", a->mode, "per-step (3K parameters) or shared (3)")
      ->capture_default_str();
  cmd->add_option("--seed", a->seed, "Seed of samples and random starts")->capture_default_str();
  cmd->add_option("--samples", a->samples, "Fitting spectra per shape")->capture_default_str();
  cmd->add_option("--heldout-samples", a->heldout_samples, "Held-out spectra per shape")
      ->capture_default_str();
  cmd->add_option("--threads", a->threads, "Shapes tuned in parallel")->capture_default_str();
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
  cmd->add_option("--envelope", a->envelope, "Bound on the composed map over [0, 1] (>= 1)")
      ->capture_default_str();
  cmd->add_flag("--resume", a->resume, "Keep the finished shapes of an existing --out table");
  cmd->add_option("--global", a->global, "Global stage: multistart or isres")
      ->capture_default_str();
  cmd->add_option("--local", a->local, "Local method: slsqp, mma or cobyla")->capture_default_str();
  cmd->add_option("--random-starts", a->random_starts, "Seeded perturbed starts (multistart)")
      ->capture_default_str();
  cmd->add_option("--safety-margin", a->safety_margin,
                  "Tolerated relative rounding per step (stored p_k(x) = q_k(x/(1+margin)))")
      ->capture_default_str();
  cmd->add_option("--validation-matrices", a->validation_matrices,
                  "Held-out matrices per shape for SVD validation (0: skip)")
      ->capture_default_str();
  cmd->add_option("--validation-max-rank", a->validation_max_rank,
                  "Larger shapes are validated on a proxy with the same aspect ratio")
      ->capture_default_str();
  cmd->callback([a] { run(*a); });
}

}  // namespace rootopt::cli
