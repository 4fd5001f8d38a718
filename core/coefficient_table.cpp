// CoefficientTable: in-memory per-shape schedules, the validated HDF5 reader, the atomic writer
// and lookup with an explicit fallback policy. Format and rules: docs/table-format.md.
#include "rootopt/coefficient_table.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <ctime>
#include <iomanip>
#include <limits>
#include <set>
#include <sstream>

#include "check.h"
#include "h5.h"
#include "rootopt/version.h"

namespace rootopt {
namespace {

constexpr double kMissing = std::numeric_limits<double>::quiet_NaN();
constexpr const char* kCoefficientNames = "abc";
// Root attributes the format itself defines; provenance attributes must use other names.
const std::set<std::string> kReservedAttributes = {"format", "format_version"};
std::string table_schedule_name(Shape shape) { return "table:" + to_string(shape); }

void check_shape(Shape shape, const std::string& context) {
  ROOTOPT_CHECK(shape.rows > 0 && shape.cols > 0, context, ": shape ", to_string(shape),
                " has a zero or negative dimension");
}

void check_metric_name(const std::string& name) {
  ROOTOPT_CHECK(!name.empty() && name.find('/') == std::string::npos && name != "." && name != "..",
                "metric name '", name, "' is not a valid HDF5 dataset name");
}

std::string utc_now() {
  const std::time_t now = std::chrono::system_clock::to_time_t(std::chrono::system_clock::now());
  std::tm utc{};
  gmtime_r(&now, &utc);
  std::ostringstream out;
  out << std::put_time(&utc, "%Y-%m-%dT%H:%M:%SZ");
  return out.str();
}

// Opens `name`, requiring a dataset of class `cls`, element size `size` (0: any) and `rank`.
h5::Id open_checked(hid_t file, const std::string& name, H5T_class_t cls, size_t size, size_t rank,
                    const std::string& path) {
  h5::Id dataset = h5::open_dataset(file, name, path);
  const char* wanted = cls == H5T_FLOAT ? "float64" : "integer";
  ROOTOPT_CHECK(h5::type_class(dataset) == cls && (size == 0 || h5::type_size(dataset) == size),
                path, ": dataset '", name, "' has the wrong type (expected ", wanted, ")");
  const auto extents = h5::dims(dataset);
  ROOTOPT_CHECK(extents.size() == rank, path, ": dataset '", name, "' has rank ", extents.size(),
                ", expected ", rank);
  return dataset;
}

std::string extents_text(const std::vector<hsize_t>& extents) {
  std::string text = "[";
  for (size_t i = 0; i < extents.size(); ++i) text += (i ? ", " : "") + std::to_string(extents[i]);
  return text + "]";
}

// Provenance attribute as text: strings as stored, numbers (e.g. a seed written by h5py)
// printed exactly.
std::string attribute_text(hid_t file, const std::string& name, const std::string& path) {
  switch (h5::attribute_type_class(file, name, path)) {
    case H5T_STRING:
      return h5::read_string_attribute(file, name, path);
    case H5T_INTEGER:
      return std::to_string(h5::read_int_attribute(file, name, path));
    case H5T_FLOAT: {
      std::ostringstream out;
      out << std::setprecision(17) << h5::read_double_attribute(file, name, path);
      return out.str();
    }
    default:
      ROOTOPT_FAIL(path, ": root attribute '", name,
                   "' is neither a string nor a number (provenance attributes are text)");
  }
}

// The /metrics/<name> columns in the file's row order (`shapes`), each checked: float64, one
// value per shape, NaN (missing) allowed, infinity not.
std::map<std::string, std::vector<double>> read_metric_columns(hid_t file, const std::string& path,
                                                               const std::vector<Shape>& shapes) {
  std::map<std::string, std::vector<double>> columns;
  if (!h5::exists(file, "metrics")) return columns;
  h5::Id group = h5::open_group(file, "/metrics", path);
  for (const std::string& child : h5::list_datasets(group)) {
    const std::string name = child.substr(1);
    const std::string full = "metrics/" + name;
    ROOTOPT_CHECK(name.find('/') == std::string::npos, path, ": unexpected nested dataset '/", full,
                  "' (metrics are datasets directly in /metrics)");
    h5::Id dataset = open_checked(file, full, H5T_FLOAT, 8, 1, path);
    const auto extents = h5::dims(dataset);
    ROOTOPT_CHECK(extents[0] == shapes.size(), path, ": dataset '/", full, "' has ", extents[0],
                  " values, expected one per shape (", shapes.size(), ")");
    auto values = h5::read_doubles(dataset, path + ":/" + full);
    for (size_t i = 0; i < values.size(); ++i)
      ROOTOPT_CHECK(!std::isinf(values[i]), path, ": metric '", name, "' is infinite for shape ",
                    to_string(shapes[i]));
    columns[name] = std::move(values);
  }
  return columns;
}

}  // namespace

void CoefficientTable::set(Shape shape, const Recipe& recipe,
                           const std::map<std::string, double>& metrics) {
  check_shape(shape, "coefficient table");
  recipe.validate("coefficient table: recipe for " + to_string(shape));
  for (const auto& [name, value] : metrics) {
    check_metric_name(name);
    ROOTOPT_CHECK(!std::isinf(value), "coefficient table: metric '", name, "' for ",
                  to_string(shape), " is infinite");
  }
  const Shape key = shape.canonical();
  // Shapes stay sorted, so files and `rootopt inspect` list them in a stable order.
  const auto at = std::lower_bound(shapes_.begin(), shapes_.end(), key);
  const auto index = static_cast<size_t>(at - shapes_.begin());
  Recipe stored = recipe;
  stored.schedule = Schedule(table_schedule_name(key), recipe.schedule.steps());
  if (at != shapes_.end() && *at == key) {
    recipes_[index] = std::move(stored);
    for (auto& [name, column] : metrics_) column[index] = kMissing;
  } else {
    shapes_.insert(at, key);
    recipes_.insert(recipes_.begin() + static_cast<std::ptrdiff_t>(index), std::move(stored));
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
  check_shape(a, "shape_distance");
  check_shape(b, "shape_distance");
  const Shape ca = a.canonical(), cb = b.canonical();
  const auto log_size = [](Shape s) { return std::log2(static_cast<double>(s.rows)); };
  const auto log_aspect = [](Shape s) {
    return std::log2(static_cast<double>(s.cols) / static_cast<double>(s.rows));
  };
  return std::hypot(log_size(ca) - log_size(cb), log_aspect(ca) - log_aspect(cb));
}

RecipeLookup CoefficientTable::lookup(Shape shape, const FallbackPolicy& policy) const {
  check_shape(shape, "coefficient table lookup");
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

void CoefficientTable::save(const std::string& path) const {
  // Version-1 layout until the version-2 writer lands: one K, Frobenius, standard form.
  const int64_t steps = recipes_.empty() ? 5 : recipes_.front().steps();
  for (const Recipe& r : recipes_)
    ROOTOPT_CHECK(r.steps() == steps && r.normalization == Normalization::frobenius &&
                      r.form == IterationForm::standard && r.tail_steps == 0,
                  path, ": this build writes only version-1 tables (one K, frobenius, standard)");
  for (const auto& [name, value] : attributes_) {
    ROOTOPT_CHECK(kReservedAttributes.count(name) == 0, path, ": attribute '", name,
                  "' is reserved by the table format");
    ROOTOPT_CHECK(!name.empty(), path, ": empty attribute name");
  }
  const auto count = static_cast<hsize_t>(shapes_.size());
  std::vector<int64_t> shapes;
  for (const Shape& s : shapes_) shapes.insert(shapes.end(), {s.rows, s.cols});
  std::vector<double> coefficients;
  for (const Recipe& recipe : recipes_)
    for (const QuinticStep& st : recipe.schedule.steps())
      coefficients.insert(coefficients.end(), {st.a, st.b, st.c});

  h5::write_atomically(path, [&](hid_t file) {
    h5::write_attribute(file, "format", std::string(kTableFormat));
    h5::write_attribute(file, "format_version", int64_t(1));
    h5::write_attribute(file, "steps", steps);
    // Provenance every table carries, unless the producer recorded its own.
    if (attributes_.count("rootopt_version") == 0)
      h5::write_attribute(file, "rootopt_version", std::string(ROOTOPT_VERSION));
    if (attributes_.count("created") == 0) h5::write_attribute(file, "created", utc_now());
    for (const auto& [name, value] : attributes_)
      if (name != "steps") h5::write_attribute(file, name, value);  // v1: the format's own
    h5::write_int64s(file, "shapes", {count, 2}, shapes.data());
    h5::write_doubles(file, "coefficients", {count, static_cast<hsize_t>(steps), 3},
                      coefficients.data());
    h5::create_group(file, "metrics");
    for (const auto& [name, column] : metrics_)
      h5::write_doubles(file, "metrics/" + name, {count}, column.data());
  });
}

CoefficientTable CoefficientTable::load(const std::string& path) {
  h5::Id file = h5::open_file(path);

  h5::check_format(file, path, {kTableFormat, 1, "rootopt coefficient table"});
  const int64_t steps = h5::read_int_attribute(file, "steps", path);
  ROOTOPT_CHECK(steps > 0, path, ": attribute 'steps' = ", steps, " is not a valid step count");

  h5::Id shapes_set = open_checked(file, "shapes", H5T_INTEGER, 0, 2, path);
  const auto shape_dims = h5::dims(shapes_set);
  ROOTOPT_CHECK(shape_dims[1] == 2, path, ": dataset 'shapes' has extents ",
                extents_text(shape_dims), ", expected [S, 2]");
  const hsize_t count = shape_dims[0];
  h5::Id coefficients_set = open_checked(file, "coefficients", H5T_FLOAT, 8, 3, path);
  const auto coefficient_dims = h5::dims(coefficients_set);
  ROOTOPT_CHECK(coefficient_dims == (std::vector<hsize_t>{count, static_cast<hsize_t>(steps), 3}),
                path, ": dataset 'coefficients' has extents ", extents_text(coefficient_dims),
                ", expected [", count, ", ", steps, ", 3] (shapes x steps x 3)");

  const auto raw_shapes = h5::read_int64s(shapes_set, path + ":/shapes");
  const auto raw_coefficients = h5::read_doubles(coefficients_set, path + ":/coefficients");

  CoefficientTable table;
  table.loaded_version_ = 1;
  std::vector<Shape> file_shapes;  // in the file's row order
  std::set<Shape> seen;
  for (size_t i = 0; i < count; ++i) {
    const Shape shape{raw_shapes[2 * i], raw_shapes[2 * i + 1]};
    file_shapes.push_back(shape);
    const std::string where = path + ": /shapes row " + std::to_string(i);
    check_shape(shape, where);
    ROOTOPT_CHECK(shape.rows <= shape.cols, where, ": shape ", to_string(shape),
                  " is not canonical (rows > cols)");
    ROOTOPT_CHECK(seen.insert(shape).second, where, ": duplicate shape ", to_string(shape));
    std::vector<QuinticStep> schedule(static_cast<size_t>(steps));
    for (size_t k = 0; k < schedule.size(); ++k) {
      const double* abc = &raw_coefficients[(i * schedule.size() + k) * 3];
      for (int j = 0; j < 3; ++j)
        ROOTOPT_CHECK(std::isfinite(abc[j]), path, ": non-finite coefficient ",
                      kCoefficientNames[j], " = ", abc[j], " for shape ", to_string(shape),
                      " step ", k + 1);
      schedule[k] = {abc[0], abc[1], abc[2]};
    }
    Recipe recipe;
    recipe.schedule = Schedule(table_schedule_name(shape), std::move(schedule));
    table.set(shape, recipe);
  }

  // Metric columns follow the file's row order; set() sorted the shapes, so map rows to indices.
  std::vector<size_t> row_index(count);
  for (size_t i = 0; i < count; ++i)
    row_index[i] = static_cast<size_t>(*table.find(file_shapes[i]));
  for (const auto& [name, values] : read_metric_columns(file, path, file_shapes)) {
    auto& column = table.metrics_[name];
    column.assign(count, kMissing);
    for (size_t i = 0; i < count; ++i) column[row_index[i]] = values[i];
  }

  for (const std::string& name : h5::attribute_names(file))
    if (kReservedAttributes.count(name) == 0)
      table.attributes_[name] = attribute_text(file, name, path);
  return table;
}

}  // namespace rootopt
