#include "schedule_set.h"

#include <algorithm>
#include <cmath>
#include <cstdlib>

#include "check.h"

namespace rootopt::audit {

ScheduleSet::ScheduleSet(const ScheduleSetParams& params) : builtins_(params.names) {
  if (!params.table_path.empty()) table_ = CoefficientTable::load(params.table_path);
  ROOTOPT_CHECK(params.steps >= 0 && params.steps <= 64, "schedule steps must be in 1..64, got ",
                params.steps);
  steps_ = params.steps > 0 ? params.steps : 5;
  ROOTOPT_CHECK(table_ || !builtins_.empty(), "no schedule to audit: give --table or --schedules");
  const std::vector<std::string> known = builtin_schedule_names();
  std::string known_list;
  for (const std::string& name : known) known_list += (known_list.empty() ? "" : ", ") + name;
  if (table_) names_.push_back("table");
  for (const std::string& name : builtins_) {
    ROOTOPT_CHECK(std::find(known.begin(), known.end(), name) != known.end(), "unknown schedule '",
                  name, "' (built-ins: ", known_list, ")");
    ROOTOPT_CHECK(std::find(names_.begin(), names_.end(), name) == names_.end(), "schedule '", name,
                  "' given twice");
    names_.push_back(name);
  }
}

std::vector<ResolvedSchedule> ScheduleSet::resolve(Shape key) const {
  std::vector<ResolvedSchedule> out;
  if (table_) {
    const RecipeLookup found = table_->lookup(key);
    const bool exact = found.origin == RecipeLookup::Origin::exact;
    out.push_back({"table", found.recipe.schedule, exact ? "exact" : found.description(), !exact});
  }
  for (const std::string& name : builtins_) {
    const bool published = builtin_is_published_for(name, key);
    std::string origin = "built-in";
    if (name == "root-paper")
      origin = published ? "published for " + to_string(key) : "muon fallback (not published)";
    out.push_back({name, builtin_schedule(name, key, steps_), origin, !published});
  }
  return out;
}

std::optional<double> table_envelope_bound(const CoefficientTable& table) {
  for (const char* name : {"envelope_bound", "envelope"}) {
    const auto it = table.attributes().find(name);
    if (it == table.attributes().end()) continue;
    char* end = nullptr;
    const double value = std::strtod(it->second.c_str(), &end);
    ROOTOPT_CHECK(end != it->second.c_str() && *end == '\0' && std::isfinite(value) && value >= 1,
                  "table attribute ", name, " = '", it->second, "' is not an envelope bound >= 1");
    return value;
  }
  return std::nullopt;
}

}  // namespace rootopt::audit
