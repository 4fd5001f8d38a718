#include "matrix_audit.h"

#include <algorithm>
#include <limits>

#include "check.h"
#include "rootopt/spectrum_family.h"

namespace rootopt::audit {

MatrixRun run_schedules(const Eigen::MatrixXd& matrix, const PolarFactor& reference,
                        const std::vector<ResolvedSchedule>& schedules, Precision precision) {
  // A recipe acts on the spectrum of X0 = B/||B||_F (then normalized as the recipe says);
  // normalising the SVD's singular values gives exactly that spectrum, so exact_rms is what
  // infinite precision would reach.
  const Spectrum spectrum = normalised_spectrum(reference.singular_values);
  MatrixRun run;
  for (const ResolvedSchedule& schedule : schedules) {
    const MatrixError error =
        matrix_error(newton_schulz(matrix, schedule.recipe, precision), reference);
    run.errors.push_back(error);
    if (schedule.spectral())
      run.exact_rms.push_back(spectral_error(schedule.recipe, spectrum).rms);
    else if (precision == Precision::fp64)
      run.exact_rms.push_back(error.rms);
    else
      run.exact_rms.push_back(
          matrix_error(newton_schulz(matrix, schedule.recipe, Precision::fp64), reference).rms);
  }
  return run;
}

void add_matrix_runs(const std::vector<MatrixRun>& runs, size_t schedule, MatrixAudit& out) {
  ROOTOPT_ASSERT(!runs.empty(), "no matrix runs to aggregate");
  double rms_sum = 0, exact_sum = 0;
  out.max_dev = 0;
  out.min_sv = std::numeric_limits<double>::infinity();
  out.max_sv = -std::numeric_limits<double>::infinity();
  for (const MatrixRun& run : runs) {
    const MatrixError& e = run.errors.at(schedule);
    rms_sum += e.rms;
    exact_sum += run.exact_rms.at(schedule);
    out.max_dev = std::max(out.max_dev, e.max_dev);
    out.min_sv = std::min(out.min_sv, e.min_sv);
    out.max_sv = std::max(out.max_sv, e.max_sv);
  }
  out.matrices = int64_t(runs.size());
  out.rms = rms_sum / double(runs.size());
  out.exact_rms = exact_sum / double(runs.size());
}

}  // namespace rootopt::audit
