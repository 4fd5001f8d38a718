// Spectral evaluation: a schedule acts on each singular value independently, so its exact
// (infinite-precision) effect on a matrix is the composed scalar map applied to the spectrum.
// All computation is fp64.
#pragma once

#include <cstdint>
#include <vector>

#include "rootopt/recipe.h"
#include "rootopt/schedule.h"

namespace rootopt {

// Singular values of X0 = B/||B||_F: non-negative, Frobenius-normalised (sum s^2 = 1), so all
// lie in [0, 1]. Stored in descending order.
using Spectrum = std::vector<double>;

// p(s) for every entry, vectorised over the spectrum.
std::vector<double> apply_schedule(const Schedule& schedule, const Spectrum& s);

struct SpectralError {
  double rms = 0;        // sqrt(mean (p(s_i) - 1)^2) = ||X_K - U V^T||_F / sqrt(r)
  double max_dev = 0;    // max |p(s_i) - 1|
  double min_value = 0;  // min p(s_i)
  double max_value = 0;  // max p(s_i)
};
SpectralError spectral_error(const Schedule& schedule, const Spectrum& s);

// The spectrum step 1 receives under `normalization`: a Frobenius-normalised spectrum divided by
// its Schatten-p norm ||s||_p = (sum s_i^p)^(1/p), p = 4 (schatten4) or 8 (schatten8), which
// puts the top value near 1 (issue 9; docs/recipes.md, "Normalization"). frobenius returns `s`
// unchanged (it is already divided by ||s||_2; dividing again would only perturb the last bits).
// An all-zero spectrum stays zero (the runtime uses alpha = 1 there). Throws for aol (it changes
// the singular vectors: no spectral model), an empty spectrum or a negative/non-finite value.
Spectrum normalized(const Spectrum& frobenius_normalized, Normalization normalization);

// Exact-arithmetic error of a recipe on a Frobenius-normalised spectrum: the schedule's composed
// map applied to normalized(s, recipe.normalization). The form, restarts and precision tail do
// not change exact arithmetic (the Gram form is the same map), so they are ignored here; the
// matrix-level emulation (matrix_reference.h) is where they show.
SpectralError spectral_error(const Recipe& recipe, const Spectrum& frobenius_normalized);

// Extremes of the composed map over all of s in [0, 1]. Computed on a fine uniform grid, then
// refined around every local extremum with golden-section search, because the composition of
// quintics has narrow spikes a grid alone can miss.
struct Envelope {
  double max_value = 0;  // max over [0,1] of p(s)  (safety: must stay <= the envelope bound)
  double argmax = 0;
  double min_value = 0;  // min over [0,1] of p(s)  (safety: must stay >= 0)
  double argmin = 0;
};
struct EnvelopeOptions {
  int64_t grid_points = 20001;
  double refine_tolerance = 1e-12;
};
Envelope envelope(const Schedule& schedule, const EnvelopeOptions& options = {});

// Per-step safety: the minimum of each step's own map over the interval that step can receive
// (the image of [0, 1] under the preceding steps). Negative means that step can flip a sign.
std::vector<double> step_minima(const Schedule& schedule, const EnvelopeOptions& options = {});

}  // namespace rootopt
