// CoefficientTable: the HDF5 file that connects the tuner to the runtime (docs/table-format.md).
//   root attributes: format = "rootopt.coefficients", format_version = 1, steps = K, provenance
//   /shapes        int64   [S, 2]     canonical (rows <= cols), unique, no zero dimension
//   /coefficients  float64 [S, K, 3]  (a_k, b_k, c_k) per shape
//   /metrics/<name> float64 [S]       per-shape metrics (fit error, held-out error, envelope, ...)
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "rootopt/schedule.h"
#include "rootopt/shape.h"

namespace rootopt {

inline constexpr const char* kTableFormat = "rootopt.coefficients";
inline constexpr int64_t kTableFormatVersion = 1;

// What to do for a shape the table lacks. Never silent: every lookup says where its schedule
// came from, and the runtime warns once per such shape.
struct FallbackPolicy {
  enum class Kind { error, nearest, named } kind = Kind::nearest;
  // kind == named: this built-in schedule (e.g. "polar-express").
  std::string schedule_name = "polar-express";
};

struct ScheduleLookup {
  Schedule schedule;
  Shape requested;  // as asked (either orientation)
  Shape source;     // table shape used; equals requested.canonical() for an exact hit
  enum class Origin { exact, nearest, named } origin = Origin::exact;
  std::string description() const;  // e.g. "nearest tuned shape 1024x4096 (distance 0.41)"
};

class CoefficientTable {
 public:
  CoefficientTable() = default;
  explicit CoefficientTable(int64_t steps);

  // Reads and validates the whole file. Throws rootopt::Error naming the file and the problem
  // on: unreadable/truncated file, wrong `format`, unknown `format_version`, missing dataset,
  // wrong rank/type/extent, non-finite coefficient, duplicate shape, non-canonical or zero shape.
  static CoefficientTable load(const std::string& path);
  // Writes to "<path>.tmp.<pid>" then renames over `path`: an interrupted write never leaves a
  // damaged table at `path`.
  void save(const std::string& path) const;

  int64_t steps() const { return steps_; }
  int64_t size() const { return static_cast<int64_t>(shapes_.size()); }
  const std::vector<Shape>& shapes() const { return shapes_; }
  const Schedule& schedule(int64_t index) const { return schedules_[static_cast<size_t>(index)]; }

  // Adds or replaces the entry for shape.canonical(); schedule.size() must equal steps().
  // `metrics` keys become /metrics/<key> columns (missing values are stored as NaN).
  void set(Shape shape, const Schedule& schedule,
           const std::map<std::string, double>& metrics = {});
  std::optional<int64_t> find(Shape shape) const;  // either orientation
  ScheduleLookup lookup(Shape shape, const FallbackPolicy& policy = {}) const;

  // Per-shape metric columns, NaN where a shape has no value.
  const std::map<std::string, std::vector<double>>& metrics() const { return metrics_; }
  std::optional<double> metric(int64_t index, const std::string& name) const;
  // Root attributes beyond format/format_version/steps (provenance: rootopt version, creation
  // time, seed, families, objective, precision, envelope bound, ...). Strings only.
  std::map<std::string, std::string>& attributes() { return attributes_; }
  const std::map<std::string, std::string>& attributes() const { return attributes_; }

 private:
  int64_t steps_ = 0;
  std::vector<Shape> shapes_;
  std::vector<Schedule> schedules_;
  std::map<std::string, std::vector<double>> metrics_;
  std::map<std::string, std::string> attributes_;
};

// Distance used by the nearest fallback: Euclidean in (log2 rows, log2(cols/rows)) of canonical
// shapes, so a shape is matched by size and aspect ratio.
double shape_distance(Shape a, Shape b);

}  // namespace rootopt
