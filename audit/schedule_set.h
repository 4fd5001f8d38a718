// The schedules an audit compares, resolved for each canonical shape: the coefficient table's
// entry (with where the lookup found it) and the named built-ins.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "rootopt/coefficient_table.h"
#include "rootopt/schedule.h"

namespace rootopt::audit {

struct ResolvedSchedule {
  std::string name;  // "table" or the built-in's name
  Schedule schedule;
  std::string origin;  // e.g. "exact", "nearest tuned shape ...", "built-in", "muon fallback"
  bool fallback = false;
};

struct ScheduleSetParams {
  std::string table_path;          // empty: no table
  std::vector<std::string> names;  // built-in names
  int64_t steps = 0;               // built-in length; 0: 5
};

class ScheduleSet {
 public:
  // Loads and validates the table; throws rootopt::Error on an unknown or repeated name.
  explicit ScheduleSet(const ScheduleSetParams& params);

  const std::vector<std::string>& names() const { return names_; }  // "table" first if any
  std::vector<ResolvedSchedule> resolve(Shape key) const;
  const std::optional<CoefficientTable>& table() const { return table_; }
  int64_t builtin_steps() const { return steps_; }

 private:
  std::optional<CoefficientTable> table_;
  std::vector<std::string> names_;
  std::vector<std::string> builtins_;
  int64_t steps_ = 5;
};

// The envelope bound a table was tuned with (root attribute "envelope_bound", else "envelope"),
// if it records one.
std::optional<double> table_envelope_bound(const CoefficientTable& table);

}  // namespace rootopt::audit
