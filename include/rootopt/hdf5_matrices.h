// User matrices from HDF5: every 2-D floating-point dataset in a file (any group depth), e.g.
// momentum buffers captured during training by tools/capture_spectra.py.
#pragma once

#include <Eigen/Core>
#include <string>
#include <vector>

namespace rootopt {

struct NamedMatrix {
  std::string name;  // dataset path inside the file, e.g. "/layers.0.mlp.down_proj/step_100"
  Eigen::MatrixXd values;
};

// Throws rootopt::Error naming the file and dataset on an unreadable file, a dataset that holds
// non-finite values, or a file with no 2-D float dataset at all.
std::vector<NamedMatrix> read_matrices(const std::string& path);

}  // namespace rootopt
