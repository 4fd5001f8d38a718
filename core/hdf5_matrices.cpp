// User matrices from HDF5: every 2-D floating-point dataset, at any depth, read into fp64.
#include "rootopt/hdf5_matrices.h"

#include <cmath>

#include "check.h"
#include "h5.h"
#include "matrix_extents.h"
#include "rootopt/shape.h"

namespace rootopt {

namespace detail {

void check_matrix_extents(const std::vector<hsize_t>& extents, const std::string& what) {
  constexpr hsize_t kMaxValues = hsize_t{1} << 28;
  hsize_t values = 1;
  std::string text;
  for (hsize_t d : extents) text += (text.empty() ? "" : "x") + std::to_string(d);
  for (hsize_t d : extents) {
    ROOTOPT_CHECK(d <= hsize_t(kMaxDimension), what, ": ", text,
                  " values, a dimension above 2^24: larger than any weight matrix");
    values *= d;  // at most 2^48 after two dimensions; checked before the next
    ROOTOPT_CHECK(values <= kMaxValues, what, ": ", text,
                  " values, more than the limit of 2^28 values (2 GiB in fp64)");
  }
}

}  // namespace detail

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
    detail::check_matrix_extents(extents, path + ": dataset '" + name + "'");
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
