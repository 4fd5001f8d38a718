// Matrix level of the audit: every recipe run as deployed (normalization, form, restarts, tail)
// on one matrix in the audit's working precision, against the polar factor U V^T of an fp64 SVD
// of that matrix (the ground truth, also for AOL, which changes the singular vectors).
#pragma once

#include <Eigen/Core>
#include <vector>

#include "rootopt/audit.h"
#include "rootopt/matrix_reference.h"
#include "schedule_set.h"

namespace rootopt::audit {

struct MatrixRun {
  std::vector<MatrixError> errors;  // one per schedule
  // The same matrix in exact arithmetic: the spectral prediction (fp64) on its spectrum, or for
  // a recipe without a spectral model the recipe run in fp64, against the same polar factor.
  std::vector<double> exact_rms;
};

// Runs each schedule's recipe on `matrix` in `precision` and measures it against `reference`,
// the fp64 polar factor of `matrix`.
MatrixRun run_schedules(const Eigen::MatrixXd& matrix, const PolarFactor& reference,
                        const std::vector<ResolvedSchedule>& schedules, Precision precision);

// Aggregates runs of one schedule (index `schedule` in each run) into MatrixAudit's matrices,
// rms and exact_rms (means), max_dev (max), min_sv and max_sv (extremes).
void add_matrix_runs(const std::vector<MatrixRun>& runs, size_t schedule, MatrixAudit& out);

}  // namespace rootopt::audit
