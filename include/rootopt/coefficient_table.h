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
namespace detail {
// Extremes of a recipe's maps (composed on [0, 1], and each step on its input range), found by
// the checks every table recipe passes; kept for CoefficientTable::warning().
struct TableMapExtremes {
  double max_value = 0, argmax = 0;
  double min_value = 0, argmin = 0;
  double step_min = 0;  // the lowest step map
  int64_t step_min_at = 0;
};
}  // namespace detail

inline constexpr const char* kTableFormat = "rootopt.coefficients";
inline constexpr int64_t kTableFormatVersion = 2;  // written; version 1 is still read

// Limits a table file must respect, checked before anything is allocated (a damaged or hostile
// file cannot make a load allocate gigabytes or a step run for hours). Far above real tables: a
// model has tens of distinct shapes, the tuner writes a few dozen metrics and provenance fields.
inline constexpr int64_t kMaxTableShapes = int64_t(1) << 14;
inline constexpr int64_t kMaxTableMetrics = 1024;
inline constexpr int64_t kMaxTableProvenance = 1024;
inline constexpr int64_t kMaxTableStringBytes = int64_t(1) << 16;  // one name or value
inline constexpr uint64_t kMaxTableFileBytes = uint64_t(64) << 20;

// What the tuner guarantees of every recipe, checked on load (docs/table-format.md, "Validation
// on load"). A composed map p with |p(s)| > kMaxTableMapValue somewhere on [0, 1] is refused: no
// published schedule comes near (the worst, the ROOT paper's 2048x2048 triple at 5 steps,
// reaches 3.31), while damage mostly lands far beyond it (a1 x 16 from one exponent bit: inf; a
// stray 1e6: 1e155), which would turn the weights into NaN at the first step. Of the 165 single
// exponent-bit flips of Polar Express's coefficients, 144 are refused, 21 load with a warning,
// none passes silently. Milder departures load with a warning: a
// map above the table's envelope bound (its "envelope_bound" provenance, else
// kDefaultEnvelopeBound) or a step whose map goes negative on its input range.
inline constexpr double kMaxTableMapValue = 10.0;
// The default safety envelope, in one place: the tuner keeps every composed map at or below it
// (docs/tuner.md), the audit calls a schedule above it unsafe, and loading warns above it when
// the table states no bound of its own.
inline constexpr double kDefaultEnvelopeBound = 1.3;

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
  // and the problem on: unreadable/truncated/damaged file (checksum errors included), wrong
  // `format`, unknown `format_version`, missing dataset, wrong rank/type/extent, a limit above,
  // non-finite coefficient, duplicate shape, non-canonical or zero shape, an invalid recipe
  // field, a composed map beyond kMaxTableMapValue, text that is not UTF-8. A version-1 table
  // loads as Frobenius, standard form, with the table's K for every shape.
  static CoefficientTable load(const std::string& path);
  // The same from the bytes of a table file (`name` names it in messages).
  static CoefficientTable load_image(const std::string& image, const std::string& name);
  // Writes format version 2 to "<path>.tmp.<pid>" then renames over `path`: an interrupted or
  // failed write never leaves a damaged table at `path`, and a failed one writes nothing. The
  // table is checked first (provenance names and text), so what save writes, load reads.
  void save(const std::string& path) const;

  int64_t size() const { return static_cast<int64_t>(shapes_.size()); }
  const std::vector<Shape>& shapes() const { return shapes_; }
  const Recipe& recipe(int64_t index) const { return recipes_[static_cast<size_t>(index)]; }
  // Why the recipe of shape `index` is suspicious though loadable (its map leaves the envelope
  // bound, or a step's map goes negative), or "" when it is not. The runtime prints it, with the
  // shape and table named, for every shape it uses.
  std::string warning(int64_t index) const;
  // The format version of the file this table was loaded from (0: built in memory).
  int64_t loaded_version() const { return loaded_version_; }

  // Adds or replaces the entry for shape.canonical(); the shape (dimensions in
  // [1, kMaxDimension]) and the recipe (Recipe::validate, then its composed map against
  // kMaxTableMapValue) are validated first.
  // `metrics` keys become metric columns (missing values are stored as NaN).
  void set(Shape shape, const Recipe& recipe, const std::map<std::string, double>& metrics = {});
  std::optional<int64_t> find(Shape shape) const;  // either orientation
  RecipeLookup lookup(Shape shape, const FallbackPolicy& policy = {}) const;

  // Per-shape metric columns, NaN where a shape has no value.
  const std::map<std::string, std::vector<double>>& metrics() const { return metrics_; }
  std::optional<double> metric(int64_t index, const std::string& name) const;
  // Provenance beyond the format's own fields (rootopt version, creation time, seed, families,
  // objective, precision, envelope bound, ...). Names and values are UTF-8 text without NUL.
  std::map<std::string, std::string>& attributes() { return attributes_; }
  const std::map<std::string, std::string>& attributes() const { return attributes_; }

 private:
  int64_t loaded_version_ = 0;
  std::vector<Shape> shapes_;
  std::vector<Recipe> recipes_;
  std::vector<detail::TableMapExtremes> extremes_;  // of each recipe, for warning()
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
