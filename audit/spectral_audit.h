// Spectral level of the audit: the exact composed map of a schedule on sampled spectra, and the
// safety of the schedule over all of [0, 1] (ROOT paper arXiv 2511.20626 uses a fixed quintic
// whose composed map need not stay bounded; the envelope check is what catches it).
#pragma once

#include <vector>

#include "rootopt/audit.h"
#include "rootopt/spectral.h"

namespace rootopt::audit {

// Aggregates per-spectrum errors into SpectralAudit's spectra, rms (mean), max_dev (max),
// min_value and max_value (over all spectra). `errors` must not be empty.
void add_spectral_errors(const std::vector<SpectralError>& errors, SpectralAudit& out);

// For a recipe without a spectral model (aol): applicable = false, spectra = 0, and rms,
// max_dev, min_value and max_value NaN (never mistaken for a measured number).
void mark_not_applicable(SpectralAudit& out);

// Fills SpectralAudit's envelope_max, envelope_min and step_min for `schedule`.
void add_safety(const Schedule& schedule, SpectralAudit& out);

// True when the composed map or any single step goes negative on its input interval.
bool goes_negative(const SpectralAudit& spectral);
// True when the composed map exceeds `bound` somewhere on [0, 1], or when it or any single step
// goes negative on its input interval (a singular value would flip sign).
bool is_unsafe(const SpectralAudit& spectral, double bound);

}  // namespace rootopt::audit
