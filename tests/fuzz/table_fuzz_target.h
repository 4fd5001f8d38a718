// The coefficient-table fuzz target: one table file image in, loaded and used as the runtime and
// `rootopt inspect` use it. Any outcome but success or rootopt::Error (a crash, another
// exception, a sanitizer report) is a finding. Shared by the libFuzzer binary (table_fuzzer) and
// the corpus replay that runs as a normal test (table_fuzz_replay).
#pragma once

#include <cstddef>
#include <cstdint>

namespace rootopt::fuzz {

// Returns true when the bytes loaded as a table, false when the load was refused.
bool load_table_bytes(const uint8_t* data, size_t size);

}  // namespace rootopt::fuzz
