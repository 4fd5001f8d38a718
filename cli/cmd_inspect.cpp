// rootopt inspect TABLE [--json] [--lookup MxN]: format version, provenance, per-shape recipes
// (normalization, form, restarts, tail, coefficients), load-time warnings and metrics of a
// coefficient table, as aligned text or JSON. Loading validates the whole file, so inspect is also
// the way to check a table (a damaged one is an error with the file and problem named).
#include <fmt/format.h>

#include <cmath>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "commands.h"
#include "rootopt/coefficient_table.h"

namespace rootopt::cli {
namespace {

struct InspectOptions {
  std::string table;
  bool json = false;
  std::string lookup;  // optional shape to resolve through the table
};

using Row = std::vector<std::string>;

// Left-aligned columns separated by two spaces, widths from the widest cell.
void print_columns(const std::vector<Row>& rows) {
  std::vector<size_t> widths;
  for (const Row& row : rows)
    for (size_t j = 0; j < row.size(); ++j) {
      if (widths.size() <= j) widths.push_back(0);
      widths[j] = std::max(widths[j], row[j].size());
    }
  for (const Row& row : rows) {
    std::string line;
    for (size_t j = 0; j < row.size(); ++j)
      line += j + 1 < row.size() ? fmt::format("{:<{}}  ", row[j], widths[j]) : row[j];
    fmt::print("{}\n", line);
  }
}

// Shortest text that reads back to the same double, so printed coefficients are exact.
std::string exact(double value) { return fmt::format("{}", value); }

std::string metric_text(const CoefficientTable& table, int64_t index, const std::string& name) {
  const auto value = table.metric(index, name);
  return value ? fmt::format("{:.4g}", *value) : "-";
}

// Metrics as shape rows, with the metric columns split into groups that fit kLineWidth (the
// tuner writes a dozen metrics; one line per shape would be over 200 characters wide).
void print_metrics(const CoefficientTable& table) {
  constexpr size_t kLineWidth = 100;
  fmt::print("\nmetrics (- = not measured):\n");
  std::vector<std::vector<std::string>> columns;  // header, then one cell per shape
  for (const auto& [name, values] : table.metrics()) {
    std::vector<std::string> column = {name};
    for (int64_t i = 0; i < table.size(); ++i) column.push_back(metric_text(table, i, name));
    columns.push_back(std::move(column));
  }
  const auto width = [](const std::vector<std::string>& column) {
    size_t w = 0;
    for (const auto& cell : column) w = std::max(w, cell.size());
    return w + 2;
  };
  size_t shape_width = 0;
  for (const Shape& shape : table.shapes())
    shape_width = std::max(shape_width, to_string(shape).size());
  for (size_t begin = 0; begin < columns.size();) {
    size_t end = begin + 1, used = shape_width + 4 + width(columns[begin]);
    while (end < columns.size() && used + width(columns[end]) <= kLineWidth)
      used += width(columns[end++]);
    std::vector<Row> rows = {{"  shape"}};
    for (int64_t i = 0; i < table.size(); ++i)
      rows.push_back({"  " + to_string(table.shapes()[size_t(i)])});
    for (size_t c = begin; c < end; ++c)
      for (size_t r = 0; r < rows.size(); ++r) rows[r].push_back(columns[c][r]);
    if (begin > 0) fmt::print("\n");
    print_columns(rows);
    begin = end;
  }
}

void print_text(const InspectOptions& options, const CoefficientTable& table) {
  fmt::print("table:    {}\nformat:   {} version {}, {} shapes\n", options.table, kTableFormat,
             table.loaded_version(), table.size());
  if (!table.attributes().empty()) {
    fmt::print("\nprovenance:\n");
    std::vector<Row> rows;
    for (const auto& [name, value] : table.attributes()) rows.push_back({"  " + name, value});
    print_columns(rows);
  }
  if (table.size() == 0) return;

  fmt::print("\nrecipes:\n");
  std::vector<Row> recipes;
  for (int64_t i = 0; i < table.size(); ++i)
    recipes.push_back({"  " + to_string(table.shapes()[size_t(i)]), table.recipe(i).describe()});
  print_columns(recipes);

  std::vector<Row> warnings;
  for (int64_t i = 0; i < table.size(); ++i)
    if (const std::string warning = table.warning(i); !warning.empty())
      warnings.push_back({"  " + to_string(table.shapes()[size_t(i)]), warning});
  if (!warnings.empty()) {
    fmt::print("\nwarnings (loadable, but not what the tuner guarantees):\n");
    print_columns(warnings);
  }

  fmt::print("\nschedules (p_k(s) = a s + b s^3 + c s^5):\n");
  std::vector<Row> rows = {{"  shape", "step", "a", "b", "c"}};
  for (int64_t i = 0; i < table.size(); ++i) {
    const Schedule& schedule = table.recipe(i).schedule;
    for (int64_t k = 0; k < schedule.size(); ++k)
      rows.push_back({k == 0 ? "  " + to_string(table.shapes()[size_t(i)]) : "",
                      std::to_string(k + 1), exact(schedule[k].a), exact(schedule[k].b),
                      exact(schedule[k].c)});
  }
  print_columns(rows);

  if (!table.metrics().empty()) print_metrics(table);
}

nlohmann::json schedule_json(const Schedule& schedule) {
  nlohmann::json steps = nlohmann::json::array();
  for (const QuinticStep& st : schedule.steps()) steps.push_back({st.a, st.b, st.c});
  return steps;
}

nlohmann::json recipe_json(const Recipe& recipe) {
  return {{"steps", recipe.steps()},
          {"normalization", to_string(recipe.normalization)},
          {"form", to_string(recipe.form)},
          {"restarts", recipe.restarts},
          {"tail_steps", recipe.tail_steps},
          {"tail_precision", to_string(recipe.tail_precision)},
          {"coefficients", schedule_json(recipe.schedule)}};
}

nlohmann::json table_json(const InspectOptions& options, const CoefficientTable& table) {
  nlohmann::json shapes = nlohmann::json::array();
  for (int64_t i = 0; i < table.size(); ++i) {
    const Shape shape = table.shapes()[size_t(i)];
    nlohmann::json metrics = nlohmann::json::object();
    for (const auto& [name, column] : table.metrics()) {
      const auto value = table.metric(i, name);
      metrics[name] = value ? nlohmann::json(*value) : nlohmann::json(nullptr);  // NaN = missing
    }
    const std::string warning = table.warning(i);
    shapes.push_back(
        {{"shape", to_string(shape)},
         {"rows", shape.rows},
         {"cols", shape.cols},
         {"recipe", recipe_json(table.recipe(i))},
         {"warning", warning.empty() ? nlohmann::json(nullptr) : nlohmann::json(warning)},
         {"metrics", metrics}});
  }
  return {{"table", options.table},
          {"format", kTableFormat},
          {"format_version", table.loaded_version()},
          {"attributes", table.attributes()},
          {"shapes", shapes}};
}

void run_inspect(const InspectOptions& options) {
  const CoefficientTable table = CoefficientTable::load(options.table);
  if (options.json) {
    nlohmann::json out = table_json(options, table);
    if (!options.lookup.empty()) {
      const RecipeLookup found = table.lookup(parse_shape(options.lookup));
      out["lookup"] = {{"shape", options.lookup},
                       {"description", found.description()},
                       {"recipe", recipe_json(found.recipe)}};
    }
    // Table text is valid UTF-8 (load refuses anything else); the file name may not be, and is
    // shown with U+FFFD for its invalid bytes rather than failing the whole output.
    fmt::print("{}\n", out.dump(2, ' ', false, nlohmann::json::error_handler_t::replace));
    return;
  }
  print_text(options, table);
  if (!options.lookup.empty()) {
    const RecipeLookup found = table.lookup(parse_shape(options.lookup));
    fmt::print("\nlookup {}: {}\n  recipe: {}\n", options.lookup, found.description(),
               found.recipe.describe());
    const Schedule& schedule = found.recipe.schedule;
    std::vector<Row> rows = {{"  step", "a", "b", "c"}};
    for (int64_t k = 0; k < schedule.size(); ++k)
      rows.push_back({"  " + std::to_string(k + 1), exact(schedule[k].a), exact(schedule[k].b),
                      exact(schedule[k].c)});
    print_columns(rows);
  }
}

}  // namespace

void add_inspect_command(CLI::App& app) {
  auto options = std::make_shared<InspectOptions>();
  CLI::App* cmd = app.add_subcommand(
      "inspect", "Validate a coefficient table and print its provenance, schedules and metrics");
  cmd->add_option("table", options->table, "Coefficient table (.h5)")->required();
  cmd->add_flag("--json", options->json, "Print JSON instead of aligned text");
  cmd->add_option("--lookup", options->lookup,
                  "Also show which schedule a shape MxN gets (exact, transposed or nearest)");
  cmd->callback([options] { run_inspect(*options); });
}

}  // namespace rootopt::cli
