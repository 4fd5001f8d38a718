// The optimizer state file (HDF5), written atomically through core/h5.h:
//   root attributes: format = "rootopt.optimizer_state", format_version = 2, step (int64),
//                    params (int64, the number of parameters)
//   /momentum/<i>    float32 [batch, rows, cols], i = 0..params-1 in registration order,
//                    attribute "name" (the parameter's name)
// Version 2 (written) stores its strings fixed-length, its datasets chunked with the Fletcher32
// checksum and its metadata checksummed (libver V110); version 1 (variable-length strings, no
// checksums) is still read, through the bounds-checked legacy reader (core/h5_reader.h).
// Reading checks the whole file against the optimizer's registrations (count, names, dtype,
// extents) before reading any momentum, then every value for finiteness, and throws
// rootopt::Error naming the file, and the parameter where there is one.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace rootopt::detail {

inline constexpr const char* kStateFormat = "rootopt.optimizer_state";
inline constexpr int64_t kStateFormatVersion = 2;  // written; version 1 is still read

struct MomentumRecord {
  std::string name;
  int64_t batch = 1, rows = 0, cols = 0;
  std::vector<float> values;  // batch * rows * cols
};

struct OptimizerState {
  int64_t step = 0;
  std::vector<MomentumRecord> momentum;
};

void write_state_file(const std::string& path, const OptimizerState& state);
// Reads a state file whose parameters must be exactly `registered` (names and extents, any
// order; `values` ignored). Returns the records in the file's order.
OptimizerState read_state_file(const std::string& path,
                               const std::vector<MomentumRecord>& registered);

}  // namespace rootopt::detail
