// Limits on the matrices and spectra rootopt reads from a user's HDF5 file (captured spectra,
// tune/audit --matrices, eval --matrix-file). A file of a few kilobytes can declare a dataset of
// 2^60 elements (chunked, never written): reading it whole would exhaust memory.
#pragma once

#include <hdf5.h>

#include <string>
#include <vector>

namespace rootopt::detail {

// Throws rootopt::Error naming `what` when a dimension exceeds 2^24 (the bound of a shape) or the
// dataset holds more than 2^28 values (2 GiB in fp64).
void check_matrix_extents(const std::vector<hsize_t>& extents, const std::string& what);

}  // namespace rootopt::detail
