// Internal: fp64 SVD through LAPACKE dgesdd (divide and conquer), shared by the CPU polar solver,
// matrix_error() and the captured-spectra reader.
#pragma once

#include <Eigen/Core>

#include "rootopt/spectral.h"

namespace rootopt::detail {

struct ThinSvd {
  Eigen::MatrixXd u;   // m x r
  Eigen::VectorXd s;   // r, descending
  Eigen::MatrixXd vt;  // r x n
};

ThinSvd lapack_thin_svd(const Eigen::MatrixXd& matrix);
// Singular values only (descending): no vectors are formed, so much cheaper.
Spectrum lapack_singular_values(const Eigen::MatrixXd& matrix);

}  // namespace rootopt::detail
