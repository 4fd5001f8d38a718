// A tuning run over many shapes: threads across shapes, the table saved atomically after every
// finished shape (so an interruption keeps all finished work), --resume, progress with ETA.
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <exception>
#include <filesystem>
#include <mutex>

#include "blas_threads.h"
#include "candidates.h"
#include "check.h"
#include "parallel.h"
#include "rootopt/tuner.h"

namespace rootopt {
namespace {

constexpr int64_t kMaxThreads = 256;
constexpr int kMaxSymlinkHops = 40;  // as the kernel's ELOOP limit

std::vector<Shape> unique_canonical(const std::vector<Shape>& shapes) {
  std::vector<Shape> out;
  for (const Shape& s : shapes) {
    ROOTOPT_CHECK(s.rows >= 1 && s.cols >= 1, "invalid shape ", to_string(s));
    if (std::find(out.begin(), out.end(), s.canonical()) == out.end()) out.push_back(s.canonical());
  }
  return out;
}

// The file the table goes to: `path` itself, or the end of its chain of symbolic links (so a
// symlinked output stays a link to the updated file).
std::filesystem::path output_target(const std::string& path) {
  std::filesystem::path p(path);
  std::error_code ec;
  for (int hop = 0; std::filesystem::is_symlink(p, ec); ++hop) {
    if (hop == kMaxSymlinkHops)
      throw InvalidTuneOption("out_path", path + ": too many levels of symbolic links");
    const std::filesystem::path target = std::filesystem::read_symlink(p, ec);
    if (ec) throw InvalidTuneOption("out_path", path + ": cannot read link: " + ec.message());
    p = target.is_absolute() ? target : p.parent_path() / target;
  }
  return p;
}

// Fails before any work when the output cannot be written, or would replace a file without
// permission. The save writes "<target>.tmp.<pid>" and renames it (CoefficientTable::save), so
// that exact name is created and removed here: a name too long for it, an unwritable directory
// or a missing one fail now, not after the first shape.
void check_output(const std::filesystem::path& target, const std::string& path, bool resume,
                  bool overwrite) {
  if (path.empty()) throw InvalidTuneOption("out_path", "no output path");
  const std::string shown = target.string() == path ? path : path + " (-> " + target.string() + ")";
  std::error_code ec;
  const auto status = std::filesystem::status(target, ec);
  if (std::filesystem::is_directory(status))
    throw InvalidTuneOption("out_path", shown + " is a directory");
  if (std::filesystem::exists(status)) {
    if (!std::filesystem::is_regular_file(status))
      throw InvalidTuneOption("out_path", shown + " exists and is not a regular file");
    if (!resume && !overwrite)
      throw InvalidTuneOption("out_path", shown +
                                              " already exists; it is replaced only when "
                                              "asked to overwrite it, or continued when resuming");
  }
  std::filesystem::path parent = target.parent_path();
  if (parent.empty()) parent = ".";
  if (!std::filesystem::is_directory(parent, ec))
    throw InvalidTuneOption("out_path",
                            shown + ": directory " + parent.string() + " does not exist");
  const std::string probe = target.string() + ".tmp." + std::to_string(::getpid());
  const int fd = ::open(probe.c_str(), O_WRONLY | O_CREAT | O_EXCL, 0644);
  if (fd < 0) {
    if (errno == ENAMETOOLONG)
      throw InvalidTuneOption("out_path", shown +
                                              ": name too long for the temporary file the "
                                              "atomic save writes next to it (" +
                                              probe + ")");
    throw InvalidTuneOption("out_path", shown + ": cannot create files in " + parent.string() +
                                            ": " + std::strerror(errno));
  }
  ::close(fd);
  ::unlink(probe.c_str());
}

class RunState {
 public:
  RunState(const TuneRunOptions& run, std::string target, CoefficientTable table, int64_t total)
      : run_(run),
        target_(std::move(target)),
        table_(std::move(table)),
        total_(total),
        start_(std::chrono::steady_clock::now()) {}

  void finished(const TunedShape& r) {
    std::lock_guard<std::mutex> lock(mutex_);
    table_.set(r.shape, r.recipe, r.metrics);
    table_.save(target_);
    ++done_;
    if (!run_.on_progress) return;
    TuneProgress p;
    p.done = done_;
    p.total = total_;
    p.result = &r;
    p.elapsed_seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
    p.eta_seconds = p.elapsed_seconds / double(done_) * double(total_ - done_);
    run_.on_progress(p);
  }

  void failed(std::exception_ptr error) {
    std::lock_guard<std::mutex> lock(mutex_);
    if (!error_) error_ = error;
  }
  bool has_error() {
    std::lock_guard<std::mutex> lock(mutex_);
    return error_ != nullptr;
  }
  std::exception_ptr error() const { return error_; }
  int64_t done() const { return done_; }
  CoefficientTable& table() { return table_; }

 private:
  const TuneRunOptions& run_;
  std::string target_;
  CoefficientTable table_;
  int64_t total_;
  int64_t done_ = 0;
  std::chrono::steady_clock::time_point start_;
  std::mutex mutex_;
  std::exception_ptr error_;
};

}  // namespace

TuneRunResult run_tuning(const TuneRunOptions& run, const TuneOptions& options) {
  options.validate();
  ROOTOPT_CHECK(!run.shapes.empty(), "no shapes to tune");
  if (run.threads < 0 || run.threads > kMaxThreads)
    throw InvalidTuneOption("threads", detail::concat("thread count ", run.threads,
                                                      " is outside [0, ", kMaxThreads, "]"));
  const std::vector<Shape> shapes = unique_canonical(run.shapes);
  for (const Shape& s : shapes) tuner::check_some_candidate(s, options.recipes);
  const std::filesystem::path target = output_target(run.out_path);
  check_output(target, run.out_path, run.resume, run.overwrite);

  TuneRunResult result;
  CoefficientTable table;
  std::error_code ec;
  if (run.resume && std::filesystem::exists(target, ec)) {
    // The finished shapes and their provenance are kept as they are.
    table = CoefficientTable::load(target.string());
    check_resume_compatible(table, options, run.out_path);
  } else {
    table.attributes() = tuning_attributes(options);
  }

  std::vector<Shape> todo;
  for (const Shape& s : shapes) {
    if (table.find(s))
      ++result.resumed;
    else
      todo.push_back(s);
  }

  if (run.on_start) run.on_start(int64_t(todo.size()), result.resumed);
  RunState state(run, target.string(), std::move(table), int64_t(todo.size()));
  std::atomic<bool> cancelled{false};
  const int64_t threads = detail::worker_count(run.threads, int64_t(todo.size()));
  const detail::ScopedBlasThreads blas(threads > 1 ? 1 : 0);  // restored when the run ends
  // A failed or cancelled shape stops the others from starting; finished shapes are saved.
  detail::parallel_for(int64_t(todo.size()), threads, [&](int64_t i, int64_t) {
    if (state.has_error() || (run.cancel && run.cancel->load())) return;
    try {
      state.finished(tune_shape(todo[size_t(i)], options, run.cancel));
    } catch (const Cancelled&) {
      cancelled = true;
    } catch (...) {
      state.failed(std::current_exception());
    }
  });
  if (state.error()) std::rethrow_exception(state.error());

  result.tuned = state.done();
  result.cancelled =
      cancelled || (run.cancel && run.cancel->load() && result.tuned < int64_t(todo.size()));
  result.table = std::move(state.table());
  return result;
}

}  // namespace rootopt
