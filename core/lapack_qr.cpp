#include "lapack_qr.h"

#include <lapacke.h>

#include <climits>

#include "check.h"

namespace rootopt::detail {

ThinQr lapack_thin_qr(Eigen::MatrixXd matrix) {
  const Eigen::Index m = matrix.rows(), k = matrix.cols();
  ROOTOPT_CHECK(k > 0 && m >= k, "thin QR needs rows >= cols > 0, got ", m, "x", k);
  ROOTOPT_CHECK(m <= INT_MAX, "thin QR: ", m, "x", k, " exceeds LAPACK's int range");
  Eigen::VectorXd tau(k);
  lapack_int info = LAPACKE_dgeqrf(LAPACK_COL_MAJOR, lapack_int(m), lapack_int(k), matrix.data(),
                                   lapack_int(m), tau.data());
  ROOTOPT_CHECK(info == 0, "LAPACKE_dgeqrf on a ", m, "x", k, " matrix returned info = ", info);
  ThinQr qr;
  qr.r_diagonal = matrix.diagonal();
  info = LAPACKE_dorgqr(LAPACK_COL_MAJOR, lapack_int(m), lapack_int(k), lapack_int(k),
                        matrix.data(), lapack_int(m), tau.data());
  ROOTOPT_CHECK(info == 0, "LAPACKE_dorgqr on a ", m, "x", k, " matrix returned info = ", info);
  qr.q = std::move(matrix);
  return qr;
}

}  // namespace rootopt::detail
