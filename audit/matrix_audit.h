// Matrix level of the audit: real Newton-Schulz iterations of every schedule on one matrix, in
// the audit's precision, against the polar factor U V^T of an fp64 SVD (the ground truth).
#pragma once

#include <Eigen/Core>
#include <vector>

#include "rootopt/audit.h"
#include "rootopt/matrix_reference.h"

namespace rootopt::audit {

struct MatrixRun {
  std::vector<MatrixError> errors;  // one per schedule
  std::vector<double> exact_rms;    // spectral prediction (fp64) on this matrix's spectrum
};

// Runs each schedule on `matrix` in `precision` and measures it against `reference`, the fp64
// polar factor of `matrix`.
MatrixRun run_schedules(const Eigen::MatrixXd& matrix, const PolarFactor& reference,
                        const std::vector<Schedule>& schedules, Precision precision);

// Aggregates runs of one schedule (index `schedule` in each run) into MatrixAudit's matrices,
// rms and exact_rms (means), max_dev (max), min_sv and max_sv (extremes).
void add_matrix_runs(const std::vector<MatrixRun>& runs, size_t schedule, MatrixAudit& out);

}  // namespace rootopt::audit
