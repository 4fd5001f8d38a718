// The coefficient table file (docs/table-format.md): the version-2 writer, and the readers of
// versions 2 and 1 on top of h5::Reader (libhdf5 for checksummed files, rootopt's own
// bounds-checked reader for files without checksums). Every object is read by its known name:
// nothing iterates the file's attributes.
#include <algorithm>
#include <cmath>
#include <iomanip>
#include <limits>
#include <numeric>
#include <set>
#include <sstream>

#include "check.h"
#include "coefficient_table_checks.h"
#include "h5.h"
#include "h5_reader.h"
#include "rootopt/coefficient_table.h"
#include "rootopt/version.h"
#include "utc_time.h"

namespace rootopt {
namespace {

constexpr double kMissing = std::numeric_limits<double>::quiet_NaN();
constexpr const char* kCoefficientNames = "abc";
// Names the format itself uses; provenance must use others.
const std::set<std::string> kReservedNames = {"format", "format_version"};

// Version-2 integer codes of the recipe fields. 0 is each field's default, so a missing optional
// dataset and an all-zero one mean the same.
const std::vector<Normalization> kNormalizationCodes = {
    Normalization::frobenius, Normalization::schatten4, Normalization::schatten8};
const std::vector<IterationForm> kFormCodes = {IterationForm::standard, IterationForm::gram};
const std::vector<Precision> kTailPrecisionCodes = {Precision::fp32, Precision::tf32};

// Version 1 stored provenance as one root attribute per field, and nothing lists attributes: a
// version-1 table's provenance is looked up by these names (everything `rootopt tune` ever
// wrote, and the conventional names of the version-1 docs).
const std::vector<std::string> kVersion1Provenance = {
    "rootopt_version", "created",         "tool",           "seed",    "steps",        "mode",
    "samples",         "heldout_samples", "envelope_bound", "mixture", "heldout_real", "objective",
    "precision",       "search",          "validation",     "families"};

template <typename Enum>
int64_t code_of(const std::vector<Enum>& codes, Enum value) {
  const auto it = std::find(codes.begin(), codes.end(), value);
  ROOTOPT_ASSERT(it != codes.end(), "recipe value without a table code");
  return int64_t(it - codes.begin());
}

std::string extents_text(const std::vector<hsize_t>& extents) {
  std::string text = "[";
  for (size_t i = 0; i < extents.size(); ++i) text += (i ? ", " : "") + std::to_string(extents[i]);
  return text + "]";
}

// Reads the datasets of one table file, each checked for class, size and extents before any
// data is read.
class TableReader {
 public:
  explicit TableReader(const h5::Reader& file) : file_(file) {}
  const std::string& path() const { return file_.name(); }
  const h5::Reader& file() const { return file_; }
  bool has(const std::string& name) const { return file_.exists(name); }

  // Dataset `name`'s type and extents, requiring class `cls` (floats: 64-bit) and extents
  // `expected`, where kAny accepts any extent.
  static constexpr hsize_t kAny = std::numeric_limits<hsize_t>::max();
  h5::ValueInfo open(const std::string& name, h5::ValueClass cls, std::vector<hsize_t> expected,
                     const char* shape_text) const {
    const h5::ValueInfo info = file_.dataset(name);
    const bool ok = info.cls == cls && (cls != h5::ValueClass::floating || info.size == 8);
    const char* wanted = cls == h5::ValueClass::floating ? "float64"
                         : cls == h5::ValueClass::string ? "string"
                                                         : "integer";
    ROOTOPT_CHECK(ok, path(), ": dataset '", name, "' has the wrong type (expected ", wanted, ")");
    ROOTOPT_CHECK(info.extents.size() == expected.size(), path(), ": dataset '", name,
                  "' has rank ", info.extents.size(), ", expected ", expected.size(), " (",
                  shape_text, ")");
    for (size_t i = 0; i < expected.size(); ++i)
      ROOTOPT_CHECK(expected[i] == kAny || info.extents[i] == expected[i], path(), ": dataset '",
                    name, "' has extents ", extents_text(info.extents), ", expected ", shape_text);
    return info;
  }

  std::vector<int64_t> ints(const std::string& name, std::vector<hsize_t> extents,
                            const char* shape_text) const {
    open(name, h5::ValueClass::integer, std::move(extents), shape_text);
    return file_.read_ints(name);
  }
  std::vector<double> doubles(const std::string& name, std::vector<hsize_t> extents,
                              const char* shape_text) const {
    open(name, h5::ValueClass::floating, std::move(extents), shape_text);
    return file_.read_doubles(name);
  }
  std::vector<std::string> strings(const std::string& name, std::vector<hsize_t> extents,
                                   const char* shape_text) const {
    open(name, h5::ValueClass::string, std::move(extents), shape_text);
    return file_.read_strings(name, size_t(kMaxTableStringBytes));
  }
  // The first extent of dataset `name`, checked against `limit` before anything is read.
  hsize_t count(const std::string& name, hsize_t limit, const char* what) const {
    const std::vector<hsize_t> extents = file_.dataset(name).extents;
    ROOTOPT_CHECK(!extents.empty(), path(), ": dataset '", name, "' is a scalar");
    ROOTOPT_CHECK(extents[0] <= limit, path(), ": dataset '", name, "' declares ", extents[0], " ",
                  what, ", more than the ", limit, " a table can have (damaged file?)");
    return extents[0];
  }

 private:
  const h5::Reader& file_;
};

// One row of /shapes with its recipe as read, before sorting.
struct Row {
  Shape shape;
  Recipe recipe;
};

std::vector<Shape> read_shapes(const TableReader& in) {
  const hsize_t count = in.count("shapes", hsize_t(kMaxTableShapes), "shapes");
  const std::vector<int64_t> raw = in.ints("shapes", {count, 2}, "[S, 2]");
  std::vector<Shape> shapes(count);
  for (size_t i = 0; i < count; ++i) {
    shapes[i] = {raw[2 * i], raw[2 * i + 1]};
    const std::string where = in.path() + ": /shapes row " + std::to_string(i);
    detail::check_table_shape(shapes[i], where);
    ROOTOPT_CHECK(shapes[i].rows <= shapes[i].cols, where, ": shape ", to_string(shapes[i]),
                  " is not canonical (rows > cols)");
  }
  return shapes;
}

// "<file>: shape 1024x4096 (/shapes row 3)": where a per-shape error happened.
std::string shape_context(const TableReader& in, const std::vector<Shape>& shapes, size_t i) {
  return in.path() + ": shape " + to_string(shapes[i]) + " (/shapes row " + std::to_string(i) + ")";
}

// The schedule of row i from `coefficients` [S, Kmax, 3]: its first `steps` rows finite, the
// padding after them NaN.
Schedule read_schedule(const std::vector<double>& coefficients, size_t i, size_t kmax,
                       int64_t steps, const std::string& where) {
  std::vector<QuinticStep> list;
  for (size_t k = 0; k < kmax; ++k) {
    const double* abc = &coefficients[(i * kmax + k) * 3];
    for (int j = 0; j < 3; ++j) {
      if (int64_t(k) < steps)
        ROOTOPT_CHECK(std::isfinite(abc[j]), where, ": non-finite coefficient ",
                      kCoefficientNames[j], " = ", abc[j], " at step ", k + 1);
      else
        ROOTOPT_CHECK(std::isnan(abc[j]), where, ": /coefficients step ", k + 1,
                      " lies beyond the shape's ", steps, " steps and must be NaN padding, holds ",
                      kCoefficientNames[j], " = ", abc[j]);
    }
    if (int64_t(k) < steps) list.push_back({abc[0], abc[1], abc[2]});
  }
  return Schedule("table", std::move(list));
}

// An optional per-shape code dataset [S]: its values (0 where missing), each in [0, codes).
std::vector<int64_t> read_codes(const TableReader& in, const std::string& name, size_t count,
                                size_t codes, const char* meaning,
                                const std::vector<Shape>& shapes) {
  if (!in.has(name)) return std::vector<int64_t>(count, 0);
  std::vector<int64_t> values = in.ints(name, {count}, "[S], one per shape");
  for (size_t i = 0; i < count; ++i)
    ROOTOPT_CHECK(values[i] >= 0 && values[i] < int64_t(codes), shape_context(in, shapes, i),
                  ": unknown /", name, " code ", values[i], " (", meaning, ")");
  return values;
}

std::vector<Row> read_rows_v2(const TableReader& in) {
  const std::vector<Shape> shapes = read_shapes(in);
  const size_t count = shapes.size();
  const std::vector<int64_t> steps = in.ints("steps", {count}, "[S], one per shape");
  int64_t kmax = 0;
  for (size_t i = 0; i < count; ++i) {
    ROOTOPT_CHECK(steps[i] >= 1 && steps[i] <= kMaxRecipeSteps, shape_context(in, shapes, i),
                  ": /steps = ", steps[i], " is outside [1, ", kMaxRecipeSteps, "]");
    kmax = std::max(kmax, steps[i]);
  }
  if (count == 0) {  // an empty table: K is the step extent of /coefficients, at most the cap
    const std::vector<hsize_t> extents = in.open("coefficients", h5::ValueClass::floating,
                                                 {0, TableReader::kAny, 3}, "[S, K, 3] with S = 0")
                                             .extents;
    ROOTOPT_CHECK(extents[1] <= hsize_t(kMaxRecipeSteps), in.path(),
                  ": dataset 'coefficients' has ", extents[1], " steps (at most ", kMaxRecipeSteps,
                  ")");
    kmax = int64_t(extents[1]);
  }
  const std::vector<double> coefficients =
      in.doubles("coefficients", {count, hsize_t(kmax), 3},
                 "[S, K, 3] with S shapes and K the largest /steps");
  const std::vector<int64_t> normalization =
      read_codes(in, "normalization", count, kNormalizationCodes.size(),
                 "0 frobenius, 1 schatten4, "
                 "2 schatten8",
                 shapes);
  const std::vector<int64_t> form =
      read_codes(in, "form", count, kFormCodes.size(), "0 standard, 1 gram", shapes);
  const std::vector<int64_t> tail_precision =
      read_codes(in, "tail_precision", count, kTailPrecisionCodes.size(), "0 fp32, 1 tf32", shapes);
  const std::vector<int64_t> tail_steps = in.has("tail_steps")
                                              ? in.ints("tail_steps", {count}, "[S], one per shape")
                                              : std::vector<int64_t>(count, 0);
  const std::vector<int64_t> restart_after =
      in.has("restart_after")
          ? in.ints("restart_after", {count, hsize_t(kmax)}, "[S, K], one flag per step")
          : std::vector<int64_t>(count * size_t(kmax), 0);

  std::vector<Row> rows(count);
  for (size_t i = 0; i < count; ++i) {
    const std::string where = shape_context(in, shapes, i);
    Recipe& recipe = rows[i].recipe;
    rows[i].shape = shapes[i];
    recipe.schedule = read_schedule(coefficients, i, size_t(kmax), steps[i], where);
    recipe.normalization = kNormalizationCodes[size_t(normalization[i])];
    recipe.form = kFormCodes[size_t(form[i])];
    recipe.tail_steps = tail_steps[i];
    recipe.tail_precision = kTailPrecisionCodes[size_t(tail_precision[i])];
    for (int64_t k = 0; k < kmax; ++k) {
      const int64_t flag = restart_after[i * size_t(kmax) + size_t(k)];
      ROOTOPT_CHECK(flag == 0 || flag == 1, where, ": /restart_after holds ", flag, " at step ",
                    k + 1, " (flags are 0 or 1)");
      ROOTOPT_CHECK(flag == 0 || k + 1 < steps[i], where, ": /restart_after flags step ", k + 1,
                    ", but a restart must follow one of steps 1 to ", steps[i] - 1,
                    " (the flags beyond are padding and must be 0)");
      if (flag == 1) recipe.restarts.push_back(k + 1);
    }
  }
  return rows;
}

std::map<std::string, std::vector<double>> read_metrics_v2(const TableReader& in,
                                                           const std::vector<Shape>& shapes) {
  std::map<std::string, std::vector<double>> columns;
  const bool has_values = in.has("metrics"), has_names = in.has("metric_names");
  ROOTOPT_CHECK(has_values == has_names, in.path(), ": '", has_values ? "metrics" : "metric_names",
                "' without '", has_values ? "metric_names" : "metrics",
                "' (metrics need both: values [S, M] and names [M])");
  if (!has_values) return columns;
  const hsize_t count = in.count("metric_names", hsize_t(kMaxTableMetrics), "metric names");
  const std::vector<std::string> names = in.strings("metric_names", {count}, "[M]");
  const std::vector<double> values =
      in.doubles("metrics", {hsize_t(shapes.size()), count}, "[S, M], S shapes, M metric names");
  for (size_t m = 0; m < names.size(); ++m) {
    const std::string where = in.path() + ": /metric_names entry " + std::to_string(m);
    detail::check_table_text(names[m], "metric name", where);
    ROOTOPT_CHECK(columns.count(names[m]) == 0, where, ": duplicate metric '", names[m], "'");
    std::vector<double>& column = columns[names[m]];
    for (size_t i = 0; i < shapes.size(); ++i) {
      column.push_back(values[i * count + m]);
      ROOTOPT_CHECK(!std::isinf(column.back()), in.path(), ": metric '", names[m],
                    "' is infinite for shape ", to_string(shapes[i]));
    }
  }
  return columns;
}

std::map<std::string, std::string> read_provenance_v2(const TableReader& in) {
  std::map<std::string, std::string> provenance;
  if (!in.has("provenance")) return provenance;
  const hsize_t count = in.count("provenance", hsize_t(kMaxTableProvenance), "provenance entries");
  const std::vector<std::string> pairs = in.strings("provenance", {count, 2}, "[P, 2]");
  for (size_t p = 0; p < count; ++p) {
    const std::string& name = pairs[2 * p];
    const std::string where = in.path() + ": /provenance row " + std::to_string(p);
    detail::check_table_text(name, "provenance name", where);
    detail::check_table_text(pairs[2 * p + 1], "value of provenance '" + name + "'", where, true);
    ROOTOPT_CHECK(kReservedNames.count(name) == 0, where, ": provenance name '", name,
                  "' is reserved by the format");
    ROOTOPT_CHECK(provenance.emplace(name, pairs[2 * p + 1]).second, where,
                  ": duplicate provenance '", name, "'");
  }
  return provenance;
}

// Version 1: one K for every shape (root attribute `steps`), Frobenius, standard form.
std::vector<Row> read_rows_v1(const TableReader& in, int64_t steps) {
  const std::vector<Shape> shapes = read_shapes(in);
  const size_t count = shapes.size();
  const std::vector<double> coefficients =
      in.doubles("coefficients", {count, hsize_t(steps), 3},
                 "[S, K, 3] with S shapes and K = attribute 'steps'");
  std::vector<Row> rows(count);
  for (size_t i = 0; i < count; ++i) {
    rows[i].shape = shapes[i];
    rows[i].recipe.schedule =
        read_schedule(coefficients, i, size_t(steps), steps, shape_context(in, shapes, i));
  }
  return rows;
}

// Version 1 metrics: /metrics/<name> datasets, float64 [S] (their names are the producer's, so
// this is the one place the table reader lists a group).
std::map<std::string, std::vector<double>> read_metrics_v1(const TableReader& in,
                                                           const std::vector<Shape>& shapes) {
  std::map<std::string, std::vector<double>> columns;
  if (!in.has("metrics")) return columns;
  ROOTOPT_CHECK(in.file().is_group("metrics"), in.path(), ": '/metrics' is not a group");
  const std::vector<std::string> names = in.file().group_members("metrics");
  ROOTOPT_CHECK(int64_t(names.size()) <= kMaxTableMetrics, in.path(), ": /metrics holds ",
                names.size(), " objects, more than the ", kMaxTableMetrics,
                " metrics a table can have");
  for (const std::string& name : names) {
    const std::string full = "metrics/" + name;
    ROOTOPT_CHECK(!in.file().is_group(full), in.path(), ": unexpected group '/", full,
                  "' (a nested metric: metrics are datasets directly in /metrics)");
    detail::check_table_text(name, "metric name", in.path() + ": /" + full);
    std::vector<double> values = in.doubles(full, {hsize_t(shapes.size())}, "[S], one per shape");
    for (size_t i = 0; i < values.size(); ++i)
      ROOTOPT_CHECK(!std::isinf(values[i]), in.path(), ": metric '", name,
                    "' is infinite for shape ", to_string(shapes[i]));
    columns[name] = std::move(values);
  }
  return columns;
}

// Version 1 provenance, by the known names (kVersion1Provenance): text as stored, numbers as
// their decimal text. Variable-length text is read where the reader can do so safely (files
// without checksums, through rootopt's own reader), else left out.
std::map<std::string, std::string> read_provenance_v1(const h5::Reader& file) {
  std::map<std::string, std::string> provenance;
  for (const std::string& name : kVersion1Provenance) {
    const auto info = file.attribute("", name);
    if (!info) continue;
    std::string text;
    switch (info->cls) {
      case h5::ValueClass::string:
        if (info->variable_length && !file.reads_variable_length()) continue;
        text = file.read_string_attribute("", name, h5::StringStorage::fixed_or_variable);
        break;
      case h5::ValueClass::integer:
        text = std::to_string(file.read_int_attribute("", name));
        break;
      case h5::ValueClass::floating: {
        std::ostringstream out;
        out << std::setprecision(17) << file.read_double_attribute("", name);
        text = out.str();
        break;
      }
      default:
        ROOTOPT_FAIL(file.name(), ": root attribute '", name,
                     "' is neither a string nor a number (provenance attributes are text)");
    }
    detail::check_table_text(text, "value of provenance '" + name + "'", file.name(), true);
    provenance[name] = std::move(text);
  }
  return provenance;
}

}  // namespace

CoefficientTable CoefficientTable::load(const std::string& path) {
  return load_image(h5::read_image(path, kMaxTableFileBytes), path);
}

CoefficientTable CoefficientTable::load_image(const std::string& image, const std::string& path) {
  const std::unique_ptr<h5::Reader> file = h5::open_image_reader(image, path);
  const int64_t version = h5::check_format(*file, {kTableFormat, "rootopt coefficient table", 1,
                                                   kTableFormatVersion, kTableFormatVersion});
  const TableReader in(*file);
  CoefficientTable table;
  table.loaded_version_ = version;
  std::vector<Row> rows;
  std::map<std::string, std::vector<double>> metrics;
  if (version == 1) {
    const int64_t steps = file->read_int_attribute("", "steps");
    ROOTOPT_CHECK(steps >= 1 && steps <= kMaxRecipeSteps, path, ": attribute 'steps' = ", steps,
                  " is not a valid step count (1 to ", kMaxRecipeSteps, ")");
    rows = read_rows_v1(in, steps);
    table.attributes_ = read_provenance_v1(*file);
  } else {
    rows = read_rows_v2(in);
    table.attributes_ = read_provenance_v2(in);
  }
  std::vector<Shape> shapes;
  for (const Row& row : rows) shapes.push_back(row.shape);
  metrics = version == 1 ? read_metrics_v1(in, shapes) : read_metrics_v2(in, shapes);

  // Sorted by shape, as set() keeps them; duplicates are adjacent after sorting.
  std::vector<size_t> order(rows.size());
  std::iota(order.begin(), order.end(), size_t(0));
  std::stable_sort(order.begin(), order.end(),
                   [&](size_t x, size_t y) { return rows[x].shape < rows[y].shape; });
  for (size_t j = 1; j < order.size(); ++j)
    ROOTOPT_CHECK(rows[order[j]].shape != rows[order[j - 1]].shape, path, ": /shapes row ",
                  std::max(order[j], order[j - 1]), ": duplicate shape ",
                  to_string(rows[order[j]].shape));
  for (const size_t i : order) {
    Row& row = rows[i];
    row.recipe.schedule =
        Schedule(detail::table_schedule_name(row.shape), row.recipe.schedule.steps());
    table.extremes_.push_back(detail::check_table_recipe(row.recipe, shape_context(in, shapes, i)));
    table.shapes_.push_back(row.shape);
    table.recipes_.push_back(std::move(row.recipe));
  }
  for (auto& [name, values] : metrics) {
    std::vector<double>& column = table.metrics_[name];
    for (const size_t i : order) column.push_back(values[i]);
  }
  return table;
}

void CoefficientTable::save(const std::string& path) const {
  // Everything is checked before the file is created: a failed save writes nothing.
  const std::string where = path + ": cannot save the table";
  std::map<std::string, std::string> provenance = attributes_;
  // Provenance every table carries, unless the producer recorded its own.
  provenance.emplace("rootopt_version", ROOTOPT_VERSION);
  provenance.emplace("created", detail::utc_now());
  ROOTOPT_CHECK(int64_t(provenance.size()) <= kMaxTableProvenance, where, ": ", provenance.size(),
                " provenance entries (at most ", kMaxTableProvenance, ")");
  ROOTOPT_CHECK(int64_t(metrics_.size()) <= kMaxTableMetrics, where, ": ", metrics_.size(),
                " metrics (at most ", kMaxTableMetrics, ")");
  std::vector<std::string> provenance_pairs;
  for (const auto& [name, value] : provenance) {
    ROOTOPT_CHECK(kReservedNames.count(name) == 0, where, ": attribute '", name,
                  "' is reserved by the table format");
    detail::check_table_text(name, "provenance name", where);
    detail::check_table_text(value, "value of provenance '" + name + "'", where, true);
    provenance_pairs.insert(provenance_pairs.end(), {name, value});
  }

  const auto count = hsize_t(shapes_.size());
  int64_t kmax = 0;
  for (const Recipe& recipe : recipes_) kmax = std::max(kmax, recipe.steps());
  const auto steps_extent = hsize_t(kmax);
  std::vector<int64_t> shapes, steps, normalization, form, tail_steps, tail_precision;
  std::vector<int64_t> restart_after(count * steps_extent, 0);
  std::vector<double> coefficients(count * steps_extent * 3, kMissing);  // NaN padding
  for (size_t i = 0; i < count; ++i) {
    const Recipe& recipe = recipes_[i];
    shapes.insert(shapes.end(), {shapes_[i].rows, shapes_[i].cols});
    steps.push_back(recipe.steps());
    for (int64_t k = 0; k < recipe.steps(); ++k) {
      const QuinticStep& st = recipe.schedule[k];
      double* abc = &coefficients[(i * steps_extent + size_t(k)) * 3];
      abc[0] = st.a, abc[1] = st.b, abc[2] = st.c;
    }
    normalization.push_back(code_of(kNormalizationCodes, recipe.normalization));
    form.push_back(code_of(kFormCodes, recipe.form));
    for (const int64_t k : recipe.restarts) restart_after[i * steps_extent + size_t(k - 1)] = 1;
    tail_steps.push_back(recipe.tail_steps);
    tail_precision.push_back(code_of(kTailPrecisionCodes, recipe.tail_precision));
  }
  std::vector<std::string> metric_names;
  std::vector<double> metric_values(count * metrics_.size());
  for (const auto& [name, column] : metrics_) {
    for (size_t i = 0; i < count; ++i)
      metric_values[i * metrics_.size() + metric_names.size()] = column[i];
    metric_names.push_back(name);
  }
  // What save writes, load reads: the data must fit kMaxTableFileBytes with room for HDF5's
  // metadata (a few KiB per dataset). Only tables at several limits at once come near.
  const auto longest = [](const std::vector<std::string>& texts) {
    size_t size = 1;
    for (const std::string& text : texts) size = std::max(size, text.size());
    return uint64_t(size);
  };
  const uint64_t data_bytes =
      8 * (count * (2 + 1 + 3 * steps_extent + 1 + steps_extent + 2 + metric_names.size())) +
      longest(metric_names) * metric_names.size() +
      longest(provenance_pairs) * provenance_pairs.size();
  ROOTOPT_CHECK(data_bytes + (uint64_t(1) << 20) <= kMaxTableFileBytes, where, ": ", data_bytes,
                " bytes of data, more than a table file may hold (", kMaxTableFileBytes, ")");

  h5::write_atomically(path, [&](hid_t file) {
    h5::write_attribute(file, "format", std::string(kTableFormat));
    h5::write_attribute(file, "format_version", kTableFormatVersion);
    h5::write_int64s(file, "shapes", {count, 2}, shapes.data());
    h5::write_int64s(file, "steps", {count}, steps.data());
    h5::write_doubles(file, "coefficients", {count, steps_extent, 3}, coefficients.data());
    h5::write_int64s(file, "normalization", {count}, normalization.data());
    h5::write_int64s(file, "form", {count}, form.data());
    h5::write_int64s(file, "restart_after", {count, steps_extent}, restart_after.data());
    h5::write_int64s(file, "tail_steps", {count}, tail_steps.data());
    h5::write_int64s(file, "tail_precision", {count}, tail_precision.data());
    h5::write_doubles(file, "metrics", {count, hsize_t(metric_names.size())}, metric_values.data());
    h5::write_strings(file, "metric_names", {hsize_t(metric_names.size())}, metric_names);
    h5::write_strings(file, "provenance", {hsize_t(provenance.size()), 2}, provenance_pairs);
  });
}

}  // namespace rootopt
