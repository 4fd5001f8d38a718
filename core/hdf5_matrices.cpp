// User matrices from HDF5: every 2-D floating-point dataset, at any depth, read into fp64.
#include "rootopt/hdf5_matrices.h"

#include <cmath>

#include "check.h"
#include "h5.h"

namespace rootopt {

std::vector<NamedMatrix> read_matrices(const std::string& path) {
  h5::Id file = h5::open_file(path);
  std::vector<NamedMatrix> matrices;
  std::vector<std::string> skipped;
  // Datasets come in name order (H5Ovisit by name index), so results are reproducible.
  for (const std::string& name : h5::list_datasets(file)) {
    h5::Id dataset = h5::open_dataset(file, name, path);
    const auto extents = h5::dims(dataset);
    if (h5::type_class(dataset) != H5T_FLOAT || extents.size() != 2) {
      skipped.push_back(name);  // counters, vectors, integer data: not matrices
      continue;
    }
    ROOTOPT_CHECK(extents[0] > 0 && extents[1] > 0, path, ": dataset '", name, "' is empty (",
                  extents[0], "x", extents[1], ")");
    const auto values = h5::read_doubles(dataset, path + ":" + name);
    const auto rows = static_cast<Eigen::Index>(extents[0]);
    const auto cols = static_cast<Eigen::Index>(extents[1]);
    for (size_t i = 0; i < values.size(); ++i)
      ROOTOPT_CHECK(std::isfinite(values[i]), path, ": dataset '", name,
                    "' holds a non-finite value ", values[i], " at (",
                    static_cast<Eigen::Index>(i) / cols, ", ", static_cast<Eigen::Index>(i) % cols,
                    ")");
    // HDF5 stores C (row-major) order.
    using RowMajor = Eigen::Matrix<double, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
    matrices.push_back({name, Eigen::Map<const RowMajor>(values.data(), rows, cols)});
  }
  if (matrices.empty()) {
    std::string found;
    for (const auto& name : skipped) found += (found.empty() ? "" : ", ") + name;
    ROOTOPT_FAIL(path, ": no 2-D floating-point dataset in the file",
                 found.empty() ? std::string(" (it holds no datasets)")
                               : " (datasets found: " + found + ")");
  }
  return matrices;
}

}  // namespace rootopt
