// Provenance of an audit: which files (with SHA-256), options and software produced the numbers.
#pragma once

#include <string>
#include <utility>
#include <vector>

#include "rootopt/audit.h"
#include "rootopt/spectrum_family.h"
#include "schedule_set.h"

namespace rootopt::audit {

struct ProvenanceInputs {
  const AuditOptions& options;
  const ModelConfig& model;
  const ScheduleSet& schedules;
  const SpectrumMixture& mixture;
  double envelope_bound = 0;
  bool bound_from_table = false;
};

std::vector<std::pair<std::string, std::string>> audit_provenance(const ProvenanceInputs& in);

}  // namespace rootopt::audit
