// An independent, straightforward fp64 implementation of the ROOT step (ROOT arXiv 2511.20626,
// Algorithm 1; ../shared/reference/coefficients.md "ROOT reference optimizer step"), written
// from the formulas and not from the runtime's code: the CPU backend is tested against it.
#pragma once

#include <Eigen/Core>

#include "rootopt/optimizer.h"
#include "rootopt/schedule.h"

namespace rootopt::testing {

// q-quantile of |values| by a full sort and linear interpolation (torch.quantile "linear").
double reference_abs_quantile(const Eigen::MatrixXd& values, double q);

// X0 = B / (||B||_F + 1e-7), transposed if tall, K quintic steps, transposed back.
Eigen::MatrixXd reference_newton_schulz(const Eigen::MatrixXd& b, const Schedule& schedule);

// One matrix of a parameter, in fp64.
struct ReferenceMatrix {
  Eigen::MatrixXd theta;
  Eigen::MatrixXd momentum;
};

// One ROOT step on one matrix (all five steps in fp64).
void reference_step(ReferenceMatrix& state, const Eigen::MatrixXd& grad, const Hyperparams& h,
                    const Schedule& schedule);

}  // namespace rootopt::testing
