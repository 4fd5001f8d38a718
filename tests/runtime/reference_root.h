// An independent, straightforward fp64 implementation of the ROOT step (ROOT arXiv 2511.20626,
// Algorithm 1; ../shared/reference/coefficients.md "ROOT reference optimizer step"), written
// from the formulas and not from the runtime's code: the CPU backend is tested against it.
// Newton-Schulz is computed from an SVD, not by iterating, so it checks every recipe (form,
// restarts and tail do not change exact arithmetic).
#pragma once

#include <Eigen/Core>

#include "rootopt/optimizer.h"
#include "rootopt/recipe.h"

namespace rootopt::testing {

// q-quantile of |values| by a full sort and linear interpolation (torch.quantile "linear").
double reference_abs_quantile(const Eigen::MatrixXd& values, double q);

// One matrix of a parameter, in fp64.
struct ReferenceMatrix {
  Eigen::MatrixXd theta;
  Eigen::MatrixXd momentum;
};

// One ROOT step on one matrix (all five steps in fp64). Newton-Schulz in exact arithmetic through
// an SVD (tests/support/svd_reference.h): X0 = B / (||B||_F + 1e-7), the recipe's normalization
// and the composed map on the singular values. Returns the singular values step 1 received.
Eigen::VectorXd reference_step(ReferenceMatrix& state, const Eigen::MatrixXd& grad,
                               const Hyperparams& h, const Recipe& recipe);

}  // namespace rootopt::testing
