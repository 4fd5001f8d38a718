// Internal: thin QR through LAPACKE (dgeqrf + dorgqr, blocked; OpenBLAS runs it multithreaded).
#pragma once

#include <Eigen/Core>

namespace rootopt::detail {

struct ThinQr {
  Eigen::MatrixXd q;           // m x k, orthonormal columns
  Eigen::VectorXd r_diagonal;  // diagonal of R (k values), for sign conventions
};

// QR of an m x k matrix with m >= k.
ThinQr lapack_thin_qr(Eigen::MatrixXd matrix);

}  // namespace rootopt::detail
