// rootopt audit: per-layer orthogonalization precision of a model (docs/audit.md).
#include <fmt/format.h>

#include <chrono>
#include <cstdio>

#include "commands.h"
#include "rootopt/audit.h"

namespace rootopt::cli {
namespace {

struct AuditArgs {
  AuditOptions options;
  std::string precision = "bf16";
  std::string out = "rootopt-audit";
  bool no_plot = false;
};

// "audit: 40% elapsed 3.1 s, ETA 4.6 s" on stderr, redrawn at most every 0.25 s.
class ProgressLine {
 public:
  void operator()(int64_t finished, int64_t total) {
    const auto now = std::chrono::steady_clock::now();
    const double elapsed = std::chrono::duration<double>(now - start_).count();
    if (finished < total && elapsed - last_ < 0.25) return;
    last_ = elapsed;
    const double fraction = total > 0 ? double(finished) / double(total) : 1.0;
    const double eta = fraction > 0 ? elapsed * (1 - fraction) / fraction : 0;
    std::fprintf(stderr, "\raudit: %3.0f%%  elapsed %.1f s, ETA %.1f s ", 100 * fraction, elapsed,
                 eta);
    open_ = finished < total;
    if (!open_) std::fprintf(stderr, "\n");
    std::fflush(stderr);
  }
  // An error mid-way is printed on its own line, not after the progress text.
  ~ProgressLine() {
    if (open_) std::fprintf(stderr, "\n");
  }
  double elapsed() const {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
  }

 private:
  std::chrono::steady_clock::time_point start_ = std::chrono::steady_clock::now();
  double last_ = -1;
  bool open_ = false;
};

void run(AuditArgs& args) {
  args.options.precision = parse_precision(args.precision);
  check_audit_output_directory(args.out);  // fail now, not after the audit
  ProgressLine progress;
  const AuditReport report =
      run_audit(args.options, [&progress](int64_t done, int64_t total) { progress(done, total); });
  std::fputs(format_audit_table(report).c_str(), stdout);
  std::fflush(stdout);
  const std::vector<std::string> files = write_audit_outputs(
      report, {args.out, !args.no_plot},
      [](const std::string& w) { std::fprintf(stderr, "warning: %s\n", w.c_str()); });
  std::string written;
  for (const std::string& file : files) written += (written.empty() ? "" : ", ") + file;
  std::fprintf(stderr, "audit: wrote %s in %.1f s\n", written.c_str(), progress.elapsed());
}

}  // namespace

void add_audit_command(CLI::App& app) {
  auto args = std::make_shared<AuditArgs>();
  CLI::App* cmd = app.add_subcommand(
      "audit", "Per-layer orthogonalization precision of a model's weights for each schedule");
  AuditOptions& o = args->options;
  cmd->add_option("--model", o.model_path, "Hugging Face config.json of the model")
      ->required()
      ->check(CLI::ExistingFile);
  cmd->add_option("--table", o.table_path, "Coefficient table (HDF5) to audit")
      ->check(CLI::ExistingFile);
  std::string names;
  for (const std::string& name : audit_schedule_names())
    names += (names.empty() ? "" : ", ") + name;
  cmd->add_option(
         "--schedules", o.schedules,
         "Built-in schedules (as deployed) and anchors to compare, comma list of: " + names)
      ->delimiter(',')
      ->capture_default_str();
  cmd->add_option("--precision", args->precision,
                  "Matrix-level working precision: bf16, tf32, fp32 or fp64")
      ->capture_default_str();
  cmd->add_option("--matrices", o.matrices_path,
                  "HDF5 file of captured 2-D matrices to audit instead of sampled ones")
      ->check(CLI::ExistingFile);
  cmd->add_option("--samples", o.samples, "Sampled spectra per shape (spectral level)")
      ->capture_default_str();
  cmd->add_option("--matrix-samples", o.matrix_samples, "Sampled matrices per shape (matrix level)")
      ->capture_default_str();
  cmd->add_option("--proxy-rank", o.proxy_rank,
                  "Matrix level runs larger shapes on a proxy of this rank, same aspect ratio")
      ->capture_default_str();
  cmd->add_option("--seed", o.seed, "Seed of every sampled spectrum and matrix")
      ->capture_default_str();
  cmd->add_option("--steps", o.steps,
                  "Steps of the built-ins and polar-express-schatten8 (0: 5; turbo-muon: always 4)")
      ->capture_default_str();
  cmd->add_option("--envelope-bound", o.envelope_bound,
                  fmt::format("Unsafe above this envelope (0: the table's attribute, else {})",
                              kDefaultEnvelopeBound))
      ->capture_default_str();
  cmd->add_option("--threads", o.threads, "Worker threads (0: all cores)")->capture_default_str();
  cmd->add_option("--out", args->out,
                  "Output directory (audit.csv, audit.json, plots audit.svg and audit-cost.svg)")
      ->capture_default_str();
  cmd->add_flag("--no-plot", args->no_plot, "Do not draw audit.svg and audit-cost.svg");
  cmd->callback([args]() { run(*args); });
}

}  // namespace rootopt::cli
