// Internal: the time stamp rootopt writes into provenance ("created" of tables and tuning runs).
#pragma once

#include <string>

namespace rootopt::detail {

// The current UTC time as ISO 8601 to the second, e.g. "2026-12-01T01:05:00Z".
std::string utc_now();

}  // namespace rootopt::detail
