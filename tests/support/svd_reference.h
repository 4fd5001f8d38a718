// An independent fp64 reference for a recipe's Newton-Schulz result, from the definitions and not
// from rootopt's code: the SVD X0 = U diag(s) V^T (Eigen's BDCSVD: another algorithm and library
// than the LAPACK dgesdd rootopt uses, and no GEMM iteration at all), alpha = ||s||_p computed
// from the singular values, and X_K = U diag(p_K(...p_1(s / alpha))) V^T. Form, restarts and tail
// do not change exact arithmetic, so they are ignored here.
#pragma once

#include <Eigen/Core>

#include "rootopt/recipe.h"

namespace rootopt::testing {

struct SvdReference {
  Eigen::MatrixXd x;            // X_K, in the input's orientation
  Eigen::VectorXd step1_input;  // the singular values step 1 receives (s / alpha), descending
  double condition = 0;         // s_max / s_min of X0 (infinity when rank deficient)
};

// X0 = B / (||B||_F + guard) (guard: the runtime's 1e-7, or 0), tall inputs transposed.
// frobenius: alpha = 1; schatten4/schatten8: alpha = (sum s_i^p)^(1/p). aol (Turbo-Muon, arXiv
// 2512.04632): the rescaled matrix diag(d) X0 with d_i = max(sum_j |(X0 X0^T)_ij|, 1e-7)^(-1/2),
// computed directly in fp64, whose SVD then takes the place of X0's (aol changes the singular
// vectors).
SvdReference svd_reference(const Eigen::MatrixXd& b, const Recipe& recipe, double guard = 0);

// First-order amplification of rounding errors by the schedule, for test tolerances: a relative
// error made in the input of step k reaches X_K scaled, per singular direction, by the slope of
// the remaining steps' composed map (the diagonal part) or by p(x)/x and the divided differences
// between singular values (the off-diagonal part, bounded by the larger of the two by the mean
// value theorem). With errors made at every step and adding in quadrature:
//   sqrt(sum_k max_i a_k(x_{k,i})^2),  a_k(x) = max(|(p_K o ... o p_k)'(x)|, |p_K o ... o p_k(x)| /
//   x),
// over the values x_{k,i} that step k receives, starting from `step1_input`. A run in a precision
// with unit roundoff u then deviates from the exact result by about c u times this, c a small
// constant from the number of roundings per step (and sqrt(n) accumulation inside GEMMs).
double rounding_amplification(const Schedule& schedule, const Eigen::VectorXd& step1_input);

// ||a - b||_F / ||b||_F.
double relative_difference(const Eigen::MatrixXd& a, const Eigen::MatrixXd& b);

}  // namespace rootopt::testing
