// The schedules an audit compares, resolved for each canonical shape as deployed: the coefficient
// table's recipe (with where the lookup found it), the named built-ins (Frobenius, standard
// form) and the anchors polar-express-schatten8 and turbo-muon (audit.h).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "rootopt/coefficient_table.h"
#include "rootopt/recipe.h"

namespace rootopt::audit {

struct ResolvedSchedule {
  std::string name;  // "table", a built-in or an anchor name
  Recipe recipe;
  std::string origin;  // e.g. "exact", "nearest tuned shape ...", "built-in", "muon fallback"
  bool fallback = false;
  // The recipe has a spectral model (every normalization but aol): the spectral level and the
  // spectral prediction of the matrix level apply.
  bool spectral() const { return recipe.normalization != Normalization::aol; }
};

struct ScheduleSetParams {
  std::string table_path;          // empty: no table
  std::vector<std::string> names;  // built-in and anchor names (audit_schedule_names())
  int64_t steps = 0;               // built-ins' and polar-express-schatten8's length; 0: 5
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
  std::vector<std::string> builtins_;  // built-ins and anchors, in the order given
  int64_t steps_ = 5;
};

// The Turbo-Muon anchor: AOL preconditioning, then 4 quintic steps with NVIDIA
// Emerging-Optimizers' "aol" coefficient set (../shared/reference/coefficients.md).
Recipe turbo_muon_recipe();

// The envelope bound a table was tuned with (root attribute "envelope_bound", else "envelope"),
// if it records one.
std::optional<double> table_envelope_bound(const CoefficientTable& table);

}  // namespace rootopt::audit
