// CoefficientTable: the HDF5 file that connects the tuner to the runtime (docs/table-format.md):
// per canonical shape (rows <= cols) its Recipe (K quintic steps and how to run them, recipe.h),
// per-shape metrics (fit error, held-out error, envelope, cost, ...) and provenance.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "rootopt/recipe.h"
#include "rootopt/schedule.h"
#include "rootopt/shape.h"

namespace rootopt {

inline constexpr const char* kTableFormat = "rootopt.coefficients";
inline constexpr int64_t kTableFormatVersion = 2;  // written; version 1 is still read

// What to do for a shape the table lacks. Never silent: every lookup says where its schedule
// came from, and the runtime warns once per such shape.
struct FallbackPolicy {
  enum class Kind { error, nearest, named } kind = Kind::nearest;
  // kind == named (and nearest on an empty table): this built-in schedule (e.g.
  // "polar-express") with `steps` steps and `normalization`, standard form.
  std::string schedule_name = "polar-express";
  int64_t steps = 5;
  Normalization normalization = Normalization::frobenius;
};

struct RecipeLookup {
  Recipe recipe;
  Shape requested;  // as asked (either orientation)
  Shape source;     // table shape used; equals requested.canonical() for an exact hit
  enum class Origin { exact, nearest, named } origin = Origin::exact;
  std::string description() const;  // e.g. "nearest tuned shape 1024x4096 (distance 0.41)"
};

class CoefficientTable {
 public:
  CoefficientTable() = default;

  // Reads and validates the whole file (version 1 or 2). Throws rootopt::Error naming the file
  // and the problem on: unreadable/truncated file, wrong `format`, unknown `format_version`,
  // missing dataset, wrong rank/type/extent, non-finite coefficient, duplicate shape,
  // non-canonical or zero shape, an invalid recipe field. A version-1 table loads as Frobenius,
  // standard form, with the table's K for every shape.
  static CoefficientTable load(const std::string& path);
  // Writes to "<path>.tmp.<pid>" then renames over `path`: an interrupted write never leaves a
  // damaged table at `path`.
  void save(const std::string& path) const;

  int64_t size() const { return static_cast<int64_t>(shapes_.size()); }
  const std::vector<Shape>& shapes() const { return shapes_; }
  const Recipe& recipe(int64_t index) const { return recipes_[static_cast<size_t>(index)]; }
  // The format version of the file this table was loaded from (0: built in memory).
  int64_t loaded_version() const { return loaded_version_; }

  // Adds or replaces the entry for shape.canonical(); the recipe is validated first.
  // `metrics` keys become metric columns (missing values are stored as NaN).
  void set(Shape shape, const Recipe& recipe, const std::map<std::string, double>& metrics = {});
  std::optional<int64_t> find(Shape shape) const;  // either orientation
  RecipeLookup lookup(Shape shape, const FallbackPolicy& policy = {}) const;

  // Per-shape metric columns, NaN where a shape has no value.
  const std::map<std::string, std::vector<double>>& metrics() const { return metrics_; }
  std::optional<double> metric(int64_t index, const std::string& name) const;
  // Provenance beyond the format's own fields (rootopt version, creation time, seed, families,
  // objective, precision, envelope bound, ...). Strings only.
  std::map<std::string, std::string>& attributes() { return attributes_; }
  const std::map<std::string, std::string>& attributes() const { return attributes_; }

 private:
  int64_t loaded_version_ = 0;
  std::vector<Shape> shapes_;
  std::vector<Recipe> recipes_;
  std::map<std::string, std::vector<double>> metrics_;
  std::map<std::string, std::string> attributes_;
};

// The recipe of a named fallback: the built-in `policy.schedule_name` with `policy.steps` steps
// and `policy.normalization`, standard form. Throws on an unknown name or invalid steps.
Recipe named_fallback_recipe(const FallbackPolicy& policy, Shape shape);

// Distance used by the nearest fallback: Euclidean in (log2 rows, log2(cols/rows)) of canonical
// shapes, so a shape is matched by size and aspect ratio.
double shape_distance(Shape a, Shape b);

}  // namespace rootopt
