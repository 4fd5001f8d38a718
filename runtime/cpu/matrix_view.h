// One matrix of a parameter as the CPU backend walks it: `rows x cols` row-major elements at
// `offset`, and the orientation Newton-Schulz works in (tall matrices transposed, so the Gram
// matrix A = X X^T is the small one; ROOT arXiv 2511.20626, Algorithm 1).
#pragma once

#include <Eigen/Core>
#include <algorithm>
#include <cstdint>

namespace rootopt::detail::cpu {

using RowMatrix = Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;

struct MatrixView {
  int64_t offset = 0;  // first element of this matrix within the parameter
  int64_t rows = 0;
  int64_t cols = 0;

  bool transposed() const { return rows > cols; }
  int64_t ns_rows() const { return std::min(rows, cols); }
  int64_t ns_cols() const { return std::max(rows, cols); }
  int64_t size() const { return rows * cols; }
  // Index into the Newton-Schulz-oriented (ns_rows x ns_cols, row-major) copy of element (i, j).
  int64_t ns_index(int64_t i, int64_t j) const {
    return transposed() ? j * rows + i : i * cols + j;
  }
};

}  // namespace rootopt::detail::cpu
