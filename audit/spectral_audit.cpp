#include "spectral_audit.h"

#include <algorithm>
#include <limits>

#include "check.h"

namespace rootopt::audit {

void add_spectral_errors(const std::vector<SpectralError>& errors, SpectralAudit& out) {
  ROOTOPT_ASSERT(!errors.empty(), "no spectra to aggregate");
  double rms_sum = 0;
  out.max_dev = 0;
  out.min_value = std::numeric_limits<double>::infinity();
  out.max_value = -std::numeric_limits<double>::infinity();
  for (const SpectralError& e : errors) {
    rms_sum += e.rms;
    out.max_dev = std::max(out.max_dev, e.max_dev);
    out.min_value = std::min(out.min_value, e.min_value);
    out.max_value = std::max(out.max_value, e.max_value);
  }
  out.spectra = int64_t(errors.size());
  out.rms = rms_sum / double(errors.size());
}

void mark_not_applicable(SpectralAudit& out) {
  const double none = std::numeric_limits<double>::quiet_NaN();
  out.applicable = false;
  out.spectra = 0;
  out.rms = out.max_dev = out.min_value = out.max_value = none;
}

void add_safety(const Schedule& schedule, SpectralAudit& out) {
  const Envelope env = envelope(schedule);
  out.envelope_max = env.max_value;
  out.envelope_min = env.min_value;
  const std::vector<double> minima = step_minima(schedule);
  out.step_min = *std::min_element(minima.begin(), minima.end());
}

bool goes_negative(const SpectralAudit& spectral) {
  return spectral.envelope_min < 0 || spectral.step_min < 0;
}

bool is_unsafe(const SpectralAudit& spectral, double bound) {
  return spectral.envelope_max > bound || goes_negative(spectral);
}

}  // namespace rootopt::audit
