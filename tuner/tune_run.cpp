// A tuning run over many shapes: threads across shapes, the table saved atomically after every
// finished shape (so an interruption keeps all finished work), --resume, progress with ETA.
#include <unistd.h>
#include <algorithm>
#include <chrono>
#include <exception>
#include <filesystem>
#include <mutex>
#include <thread>

#include "blas_threads.h"
#include "check.h"
#include "rootopt/tuner.h"

namespace rootopt {
namespace {

constexpr int64_t kMaxThreads = 256;

std::vector<Shape> unique_canonical(const std::vector<Shape>& shapes) {
  std::vector<Shape> out;
  for (const Shape& s : shapes) {
    ROOTOPT_CHECK(s.rows >= 1 && s.cols >= 1, "invalid shape ", to_string(s));
    if (std::find(out.begin(), out.end(), s.canonical()) == out.end()) out.push_back(s.canonical());
  }
  return out;
}

// Fails before any work when the output cannot be written.
void check_writable(const std::string& path) {
  ROOTOPT_CHECK(!path.empty(), "no output path (--out)");
  std::filesystem::path parent = std::filesystem::path(path).parent_path();
  if (parent.empty()) parent = ".";
  std::error_code ec;
  ROOTOPT_CHECK(std::filesystem::is_directory(parent, ec), path, ": directory ", parent.string(),
                " does not exist");
  ROOTOPT_CHECK(::access(parent.c_str(), W_OK) == 0, path, ": directory ", parent.string(),
                " is not writable");
  ROOTOPT_CHECK(!std::filesystem::is_directory(path, ec), path, " is a directory");
}

class RunState {
 public:
  RunState(const TuneRunOptions& run, CoefficientTable table, int64_t total)
      : run_(run),
        table_(std::move(table)),
        total_(total),
        start_(std::chrono::steady_clock::now()) {}

  void finished(const TunedShape& r) {
    std::lock_guard<std::mutex> lock(mutex_);
    table_.set(r.shape, r.recipe, r.metrics);
    table_.save(run_.out_path);
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
  ROOTOPT_CHECK(run.threads >= 1 && run.threads <= kMaxThreads, "--threads must be in [1, ",
                kMaxThreads, "], got ", run.threads);
  check_writable(run.out_path);
  const std::vector<Shape> shapes = unique_canonical(run.shapes);

  TuneRunResult result;
  CoefficientTable table;
  std::error_code ec;
  if (run.resume && std::filesystem::exists(run.out_path, ec)) {
    table = CoefficientTable::load(run.out_path);
    check_resume_compatible(table, options, run.out_path);
  }
  const std::string created =
      table.attributes().count("created") ? table.attributes().at("created") : std::string();
  table.attributes() = tuning_attributes(options);
  if (!created.empty()) table.attributes()["created"] = created;

  std::vector<Shape> todo;
  for (const Shape& s : shapes) {
    if (table.find(s))
      ++result.resumed;
    else
      todo.push_back(s);
  }

  RunState state(run, std::move(table), int64_t(todo.size()));
  std::atomic<size_t> next{0};
  std::atomic<bool> cancelled{false};
  auto worker = [&] {
    for (;;) {
      if (state.has_error() || (run.cancel && run.cancel->load())) return;
      const size_t i = next.fetch_add(1);
      if (i >= todo.size()) return;
      try {
        state.finished(tune_shape(todo[i], options, run.cancel));
      } catch (const Cancelled&) {
        cancelled = true;
        return;
      } catch (...) {
        state.failed(std::current_exception());
        return;
      }
    }
  };
  const int64_t threads = std::min<int64_t>(run.threads, std::max<size_t>(todo.size(), 1));
  const detail::ScopedBlasThreads blas(threads > 1 ? 1 : 0);  // restored when the run ends
  std::vector<std::thread> pool;
  for (int64_t t = 1; t < threads; ++t) pool.emplace_back(worker);
  worker();
  for (std::thread& t : pool) t.join();
  if (state.error()) std::rethrow_exception(state.error());

  result.tuned = state.done();
  result.cancelled =
      cancelled || (run.cancel && run.cancel->load() && result.tuned < int64_t(todo.size()));
  result.table = std::move(state.table());
  return result;
}

}  // namespace rootopt
