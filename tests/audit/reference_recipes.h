// Independent fp64 references for the audit tests. The coefficients are typed in here from
// ../shared/reference/coefficients.md (not taken from builtin_schedule or the audit's anchors),
// the normalizations are computed from the singular values directly (not from Gram products),
// and AOL + Newton-Schulz is a plain Eigen loop, so a test comparing the audit with these cannot
// pass by sharing the code under test.
#pragma once

#include <Eigen/Core>
#include <array>
#include <string>
#include <vector>

#include "rootopt/shape.h"

namespace rootopt::test {

using Triple = std::array<double, 3>;

struct ReferenceRecipe {
  std::vector<Triple> steps;
  int schatten = 2;  // the p of the normalization: 2 (Frobenius), 4, 8; 0 for AOL
};

// The audit's schedule `name` (a built-in or an anchor) at canonical shape `key`, with `steps`
// steps for the built-ins (turbo-muon always has its 4).
ReferenceRecipe reference_recipe(const std::string& name, Shape key, int steps = 5);

// p_K(...p_1(x)) by a scalar loop.
double reference_map(const std::vector<Triple>& steps, double x);

// s / ||s||_p for a Frobenius-normalised spectrum s (p = 2 returns s).
std::vector<double> reference_normalized(const std::vector<double>& s, int p);

struct ReferenceErrors {
  double rms = 0, max_dev = 0, min = 1e300, max = -1e300;
};
// Spectral errors of a recipe (not AOL) on Frobenius-normalised spectra: mean RMS of p(s) - 1
// over the spectra, max |p(s) - 1|, range of p(s).
ReferenceErrors reference_spectral(const ReferenceRecipe& recipe,
                                   const std::vector<std::vector<double>>& spectra);

// Singular values of `b` (Eigen's Jacobi SVD, not LAPACK's divide and conquer), descending and
// Frobenius-normalised.
std::vector<double> reference_spectrum(const Eigen::MatrixXd& b);
// The polar factor U V^T of `b` (Jacobi SVD).
Eigen::MatrixXd reference_polar(const Eigen::MatrixXd& b);

// AOL preconditioning of B in its wide view (B^T when tall): X = B / ||B||_F, A = X X^T,
// s_i = (sum_j |A_ij|)^(-1/2) with the sum clamped at 1e-7, returns diag(s) X.
Eigen::MatrixXd reference_aol(const Eigen::MatrixXd& b);

// Turbo-Muon in fp64 (arXiv 2512.04632, coefficients.md): wide view X of B / ||B||_F,
// A = X X^T, s_i = (sum_j |A_ij|)^(-1/2) with the sum clamped at 1e-7, X <- diag(s) X, then the
// 4 steps X <- a X + (b A + c A^2) X; returned in B's orientation.
Eigen::MatrixXd reference_turbo_muon(const Eigen::MatrixXd& b);

// ||X - U V^T||_F / sqrt(min(m, n)).
double reference_rms(const Eigen::MatrixXd& x, const Eigen::MatrixXd& polar);

}  // namespace rootopt::test
