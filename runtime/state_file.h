// The optimizer state file (HDF5), written atomically through core/h5.h:
//   root attributes: format = "rootopt.optimizer_state", format_version = 1, step (int64),
//                    params (int64, the number of parameters)
//   /momentum/<i>    float32 [batch, rows, cols], i = 0..params-1 in registration order,
//                    attribute "name" (the parameter's name)
// Reading validates the whole file (format, version, extents, finite values) and throws
// rootopt::Error naming the file and the problem.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace rootopt::detail {

inline constexpr const char* kStateFormat = "rootopt.optimizer_state";
inline constexpr int64_t kStateFormatVersion = 1;

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
OptimizerState read_state_file(const std::string& path);

}  // namespace rootopt::detail
