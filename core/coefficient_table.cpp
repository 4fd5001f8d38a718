// CoefficientTable in memory: per-shape recipes, the checks every recipe passes (set() and
// load), load-time warnings, and lookup with an explicit fallback policy. The file format (read
// and write) is coefficient_table_file.cpp; rules in docs/table-format.md.
#include "rootopt/coefficient_table.h"

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <iomanip>
#include <limits>
#include <sstream>

#include "check.h"
#include "coefficient_table_checks.h"
#include "rootopt/spectral.h"
#include "utf8.h"

namespace rootopt {
namespace {

constexpr double kMissing = std::numeric_limits<double>::quiet_NaN();
// Grids of the load-time map check. envelope() and step_minima() search a uniform grid of
// kCheckGridPoints and refine around every local extremum by golden section; 2049 instead of
// their default 20001 points keeps a load at ~0.2 ms per 5-step shape (bench/table). Long
// schedules have features near s = 0 narrower than that spacing (Polar Express at 10 steps peaks
// at s = 6e-5), so the map is also evaluated on kCheckLogPoints geometric points in
// [kCheckLogLow, 1]. Against a 200001-point grid plus 200000 geometric points, this finds the
// maximum of 400 perturbed Polar Express / You schedules of 1 to 12 steps to within 1e-4
// relative (the uniform grid alone: 0.27 below).
constexpr int64_t kCheckGridPoints = 2049;
constexpr int64_t kCheckLogPoints = 1024;
constexpr double kCheckLogLow = 1e-9;
// Warnings ignore departures below this: a step minimum of -1e-12 from rounding is no sign flip.
constexpr double kWarningTolerance = 1e-6;

void check_positive(Shape shape, const std::string& context) {
  ROOTOPT_CHECK(shape.rows > 0 && shape.cols > 0, context, ": shape ", to_string(shape),
                " has a zero or negative dimension");
}

// "0.123" with 4 significant digits, for warnings.
std::string short_number(double value) {
  std::ostringstream out;
  out << std::setprecision(4) << value;
  return out.str();
}

}  // namespace

namespace detail {

std::string table_schedule_name(Shape shape) { return "table:" + to_string(shape); }

void check_table_shape(Shape shape, const std::string& where) {
  check_positive(shape, where);
  ROOTOPT_CHECK(shape.rows <= kMaxDimension && shape.cols <= kMaxDimension, where, ": shape ",
                to_string(shape), " has a dimension above 2^24");
}

void check_table_text(const std::string& text, const std::string& what, const std::string& where,
                      bool may_be_empty) {
  ROOTOPT_CHECK(may_be_empty || !text.empty(), where, ": empty ", what);
  ROOTOPT_CHECK(int64_t(text.size()) <= kMaxTableStringBytes, where, ": ", what, " of ",
                text.size(), " bytes (at most ", kMaxTableStringBytes, ")");
  ROOTOPT_CHECK(text.find('\0') == std::string::npos, where, ": ", what, " contains a NUL byte");
  if (const auto bad = invalid_utf8_offset(text))
    ROOTOPT_FAIL(where, ": ", what, " is not valid UTF-8 (byte ", *bad, ")");
}

TableMapExtremes check_table_recipe(const Recipe& recipe, const std::string& where) {
  recipe.validate(where);
  const Schedule& schedule = recipe.schedule;
  const auto refuse = [&](double value, double at) {
    ROOTOPT_FAIL(where, ": the composed map reaches ", value, " at s = ", short_number(at),
                 " on [0, 1], beyond +-", kMaxTableMapValue,
                 " (no usable schedule does: damaged or wrong coefficients?)");
  };
  EnvelopeOptions options;
  options.grid_points = kCheckGridPoints;
  const Envelope env = envelope(schedule, options);
  TableMapExtremes extremes{env.max_value, env.argmax, env.min_value, env.argmin, 0, 0};
  // Point by point: every value must be finite (envelope()'s extremes skip NaN), and the
  // geometric points find what the uniform grid misses near 0.
  const auto visit = [&](double s) {
    const double value = schedule.map(s);
    if (!std::isfinite(value)) refuse(value, s);
    if (value > extremes.max_value) extremes.max_value = value, extremes.argmax = s;
    if (value < extremes.min_value) extremes.min_value = value, extremes.argmin = s;
  };
  for (int64_t i = 0; i < kCheckGridPoints; ++i) visit(double(i) / double(kCheckGridPoints - 1));
  for (int64_t i = 0; i < kCheckLogPoints; ++i)
    visit(kCheckLogLow * std::pow(1 / kCheckLogLow, double(i) / double(kCheckLogPoints - 1)));
  if (extremes.max_value > kMaxTableMapValue) refuse(extremes.max_value, extremes.argmax);
  if (extremes.min_value < -kMaxTableMapValue) refuse(extremes.min_value, extremes.argmin);
  const std::vector<double> minima = step_minima(schedule, options);
  for (size_t k = 0; k < minima.size(); ++k)
    if (k == 0 || minima[k] < extremes.step_min)
      extremes.step_min = minima[k], extremes.step_min_at = int64_t(k);
  return extremes;
}

}  // namespace detail

void CoefficientTable::set(Shape shape, const Recipe& recipe,
                           const std::map<std::string, double>& metrics) {
  detail::check_table_shape(shape, "coefficient table");
  const Shape key = shape.canonical();
  const std::string where = "coefficient table: recipe for " + to_string(key);
  const detail::TableMapExtremes extremes = detail::check_table_recipe(recipe, where);
  for (const auto& [name, value] : metrics) {
    detail::check_table_text(name, "metric name", where);
    ROOTOPT_CHECK(!std::isinf(value), where, ": metric '", name, "' is infinite");
  }
  // Shapes stay sorted, so files and `rootopt inspect` list them in a stable order.
  const auto at = std::lower_bound(shapes_.begin(), shapes_.end(), key);
  const auto index = static_cast<size_t>(at - shapes_.begin());
  Recipe stored = recipe;
  stored.schedule = Schedule(detail::table_schedule_name(key), recipe.schedule.steps());
  if (at != shapes_.end() && *at == key) {
    recipes_[index] = std::move(stored);
    extremes_[index] = extremes;
    for (auto& [name, column] : metrics_) column[index] = kMissing;
  } else {
    ROOTOPT_CHECK(size() < kMaxTableShapes, where, ": the table already holds ", size(),
                  " shapes, the most a table can have");
    shapes_.insert(at, key);
    recipes_.insert(recipes_.begin() + static_cast<std::ptrdiff_t>(index), std::move(stored));
    extremes_.insert(extremes_.begin() + static_cast<std::ptrdiff_t>(index), extremes);
    for (auto& [name, column] : metrics_)
      column.insert(column.begin() + static_cast<std::ptrdiff_t>(index), kMissing);
  }
  for (const auto& [name, value] : metrics) {
    auto& column = metrics_[name];
    column.resize(shapes_.size(), kMissing);
    column[index] = value;
  }
}

std::optional<int64_t> CoefficientTable::find(Shape shape) const {
  const Shape key = shape.canonical();
  const auto at = std::lower_bound(shapes_.begin(), shapes_.end(), key);
  if (at == shapes_.end() || *at != key) return std::nullopt;
  return static_cast<int64_t>(at - shapes_.begin());
}

std::string CoefficientTable::warning(int64_t index) const {
  ROOTOPT_CHECK(index >= 0 && index < size(), "coefficient table: index ", index,
                " out of range [0, ", size(), ")");
  const detail::TableMapExtremes& e = extremes_[static_cast<size_t>(index)];
  // The bound the table was tuned for, when it says so; else the tuner's default.
  double bound = kDefaultEnvelopeBound;
  if (const auto it = attributes_.find("envelope_bound"); it != attributes_.end()) {
    char* end = nullptr;
    const double stated = std::strtod(it->second.c_str(), &end);
    if (end != it->second.c_str() && *end == '\0' && std::isfinite(stated) && stated >= 1)
      bound = stated;
  }
  std::string text;
  if (e.max_value > bound + kWarningTolerance)
    text = "its composed map reaches " + short_number(e.max_value) +
           " at s = " + short_number(e.argmax) + ", above the envelope bound " +
           short_number(bound) + " (singular values of the update can grow by that factor)";
  if (e.step_min < -kWarningTolerance)
    text += (text.empty() ? "" : "; ") + std::string("step ") + std::to_string(e.step_min_at + 1) +
            "'s map goes down to " + short_number(e.step_min) +
            " on its input range (it flips the sign of some singular values)";
  return text;
}

std::optional<double> CoefficientTable::metric(int64_t index, const std::string& name) const {
  ROOTOPT_CHECK(index >= 0 && index < size(), "coefficient table: index ", index,
                " out of range [0, ", size(), ")");
  const auto column = metrics_.find(name);
  if (column == metrics_.end()) return std::nullopt;
  const double value = column->second[static_cast<size_t>(index)];
  if (std::isnan(value)) return std::nullopt;
  return value;
}

double shape_distance(Shape a, Shape b) {
  check_positive(a, "shape_distance");
  check_positive(b, "shape_distance");
  const Shape ca = a.canonical(), cb = b.canonical();
  const auto log_size = [](Shape s) { return std::log2(static_cast<double>(s.rows)); };
  const auto log_aspect = [](Shape s) {
    return std::log2(static_cast<double>(s.cols) / static_cast<double>(s.rows));
  };
  return std::hypot(log_size(ca) - log_size(cb), log_aspect(ca) - log_aspect(cb));
}

RecipeLookup CoefficientTable::lookup(Shape shape, const FallbackPolicy& policy) const {
  check_positive(shape, "coefficient table lookup");
  RecipeLookup result;
  result.requested = shape;
  if (const auto hit = find(shape)) {
    result.recipe = recipes_[static_cast<size_t>(*hit)];
    result.source = shapes_[static_cast<size_t>(*hit)];
    result.origin = RecipeLookup::Origin::exact;
    return result;
  }
  ROOTOPT_CHECK(policy.kind != FallbackPolicy::Kind::error,
                "coefficient table has no schedule for ", to_string(shape), " (", size(),
                " tuned shapes) and the fallback policy is 'error'");
  if (policy.kind == FallbackPolicy::Kind::nearest && !shapes_.empty()) {
    // Ties go to the first (smallest) shape in sorted order, so the choice is deterministic.
    size_t best = 0;
    for (size_t i = 1; i < shapes_.size(); ++i)
      if (shape_distance(shape, shapes_[i]) < shape_distance(shape, shapes_[best])) best = i;
    result.recipe = recipes_[best];
    result.source = shapes_[best];
    result.origin = RecipeLookup::Origin::nearest;
    return result;
  }
  // kind == named, or nearest on an empty table: there is no tuned shape to be near, so the
  // named built-in is the documented fallback (docs/table-format.md).
  result.recipe = named_fallback_recipe(policy, shape);
  result.source = shape.canonical();
  result.origin = RecipeLookup::Origin::named;
  return result;
}

Recipe named_fallback_recipe(const FallbackPolicy& policy, Shape shape) {
  Recipe recipe = builtin_recipe(policy.schedule_name, shape, policy.steps);
  recipe.normalization = policy.normalization;
  recipe.validate("fallback schedule '" + policy.schedule_name + "'");
  return recipe;
}

std::string RecipeLookup::description() const {
  std::ostringstream out;
  switch (origin) {
    case Origin::exact:
      out << "tuned schedule for " << to_string(source);
      if (requested != source) out << " (requested " << to_string(requested) << ", transposed)";
      break;
    case Origin::nearest:
      out << "nearest tuned shape " << to_string(source) << " for " << to_string(requested)
          << " (distance " << std::fixed << std::setprecision(2)
          << shape_distance(requested, source) << ")";
      break;
    case Origin::named:
      out << "built-in schedule '" << recipe.schedule.name() << "' for " << to_string(requested)
          << " (shape not in table)";
      break;
  }
  return out.str();
}

}  // namespace rootopt
