// Polar factor U V^T by fp64 SVD: LAPACK dgesdd on the CPU (measured faster than Eigen's
// BDCSVD, see docs/results/core.md), cuSOLVER when built with CUDA and a device is present.
#include <lapacke.h>

#include <climits>

#include "check.h"
#include "lapack_svd.h"
#include "rootopt/matrix_reference.h"
#ifdef ROOTOPT_HAVE_CUDA
#include "cusolver_polar.h"
#endif

namespace rootopt {
namespace detail {
namespace {

// dgesdd with jobz = 'S' (thin factors) or 'N' (values only). LAPACK overwrites its input.
ThinSvd run_dgesdd(const Eigen::MatrixXd& matrix, char jobz) {
  const Eigen::Index m = matrix.rows(), n = matrix.cols(), r = std::min(m, n);
  ROOTOPT_CHECK(r > 0, "SVD of an empty ", m, "x", n, " matrix");
  ROOTOPT_CHECK(m <= INT_MAX && n <= INT_MAX, "SVD: ", m, "x", n, " exceeds LAPACK's int range");
  ROOTOPT_CHECK(matrix.allFinite(), "SVD of a ", m, "x", n, " matrix with non-finite entries");
  Eigen::MatrixXd a = matrix;
  ThinSvd svd;
  svd.s.resize(r);
  if (jobz == 'S') {
    svd.u.resize(m, r);
    svd.vt.resize(r, n);
  }
  double dummy = 0;
  const lapack_int info =
      LAPACKE_dgesdd(LAPACK_COL_MAJOR, jobz, lapack_int(m), lapack_int(n), a.data(), lapack_int(m),
                     svd.s.data(), jobz == 'S' ? svd.u.data() : &dummy, lapack_int(m),
                     jobz == 'S' ? svd.vt.data() : &dummy, lapack_int(jobz == 'S' ? r : 1));
  ROOTOPT_CHECK(info == 0, "LAPACKE_dgesdd on a ", m, "x", n, " matrix returned info = ", info,
                info > 0 ? " (did not converge)" : " (invalid argument)");
  return svd;
}

}  // namespace

ThinSvd lapack_thin_svd(const Eigen::MatrixXd& matrix) { return run_dgesdd(matrix, 'S'); }

Spectrum lapack_singular_values(const Eigen::MatrixXd& matrix) {
  const Eigen::VectorXd s = run_dgesdd(matrix, 'N').s;
  return Spectrum(s.data(), s.data() + s.size());
}

}  // namespace detail

namespace {

class LapackPolarSolver final : public PolarSolver {
 public:
  std::string name() const override { return "lapack"; }
  PolarFactor polar(const Eigen::MatrixXd& matrix) const override {
    const detail::ThinSvd svd = detail::lapack_thin_svd(matrix);
    return {svd.u * svd.vt, Spectrum(svd.s.data(), svd.s.data() + svd.s.size())};
  }
};

}  // namespace

std::unique_ptr<PolarSolver> make_cpu_polar_solver() {
  return std::make_unique<LapackPolarSolver>();
}

std::unique_ptr<PolarSolver> make_best_polar_solver() {
#ifdef ROOTOPT_HAVE_CUDA
  try {
    if (auto solver = make_cusolver_polar_solver()) return solver;
  } catch (const Error&) {
    // No usable device (the documented contract of make_cusolver_polar_solver): use the CPU.
  }
#endif
  return make_cpu_polar_solver();
}

}  // namespace rootopt
