#include "schedule_set.h"

#include <algorithm>
#include <cmath>
#include <cstdlib>

#include "check.h"
#include "rootopt/audit.h"

namespace rootopt {

std::vector<std::string> audit_schedule_names() {
  std::vector<std::string> names = builtin_schedule_names();
  names.insert(names.end(), {kPolarExpressSchatten8, kTurboMuon});
  return names;
}

namespace audit {

Recipe turbo_muon_recipe() {
  // Emerging-Optimizers' "aol" set, which it takes from Turbo-Muon's code (thib-s/flash-newton-
  // schulz); Turbo-Muon runs 4 steps after AOL instead of Muon's 5.
  Recipe recipe(Schedule(kTurboMuon, {{4.0098, -7.0585, 2.4635},
                                      {3.4585, -5.5479, 2.5959},
                                      {2.7573, -3.2939, 1.4254},
                                      {2.7215, -3.0494, 1.3169}}));
  recipe.normalization = Normalization::aol;
  return recipe;
}

ScheduleSet::ScheduleSet(const ScheduleSetParams& params) : builtins_(params.names) {
  if (!params.table_path.empty()) table_ = CoefficientTable::load(params.table_path);
  ROOTOPT_CHECK(params.steps >= 0 && params.steps <= kMaxRecipeSteps, "--steps must be in 1..",
                kMaxRecipeSteps, " (0: 5), got ", params.steps);
  steps_ = params.steps > 0 ? params.steps : 5;
  ROOTOPT_CHECK(table_ || !builtins_.empty(), "no schedule to audit: give --table or --schedules");
  const std::vector<std::string> known = audit_schedule_names();
  std::string known_list;
  for (const std::string& name : known) known_list += (known_list.empty() ? "" : ", ") + name;
  if (table_) names_.push_back("table");
  for (const std::string& name : builtins_) {
    ROOTOPT_CHECK(std::find(known.begin(), known.end(), name) != known.end(), "unknown schedule '",
                  name, "' (built-ins and anchors: ", known_list, ")");
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
    out.push_back({"table", found.recipe, exact ? "exact" : found.description(), !exact});
  }
  for (const std::string& name : builtins_) {
    if (name == kTurboMuon) {
      out.push_back({name, turbo_muon_recipe(), "anchor: AOL + 4 steps (arXiv 2512.04632)", false});
    } else if (name == kPolarExpressSchatten8) {
      Recipe recipe = builtin_recipe("polar-express", key, steps_);
      recipe.normalization = Normalization::schatten8;
      out.push_back({name, recipe, "anchor: polar-express coefficients, schatten8", false});
    } else {
      const bool published = builtin_is_published_for(name, key);
      std::string origin = "built-in";
      if (name == "root-paper")
        origin = published ? "published for " + to_string(key) : "muon fallback (not published)";
      out.push_back({name, builtin_recipe(name, key, steps_), origin, !published});
    }
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

}  // namespace audit
}  // namespace rootopt
