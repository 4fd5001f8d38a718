// Fitting one shape's schedule for one (normalisation, K) in exact arithmetic: the grouped
// fitting spectra, the over-fitting guard's limits from the anchors, and the search.
#pragma once

#include <atomic>
#include <cstdint>
#include <string>
#include <vector>

#include "constraints.h"
#include "rootopt/tuner.h"

namespace rootopt::tuner {

// A shape's fitting spectra (Frobenius-normalised, as sampled), grouped: one group per family of
// the mixture, in the mixture's order, and one per source of a family that has sources (each
// captured model; SpectrumFamily::sources()), which shares its family's weight equally. Group g
// gets max(1, round(samples * w_g / sum w)) spectra (stratified sampling: the objective weights
// each group by w_g, so the estimate of the mixture's expected error has no variance from how
// many samples each group happens to get).
struct FitSpectra {
  std::vector<Spectrum> spectra;
  std::vector<int64_t> groups;
  std::vector<double> group_weights;
  std::vector<std::string> group_names;  // family specs
};
FitSpectra sample_fit_spectra(Shape shape, const TuneOptions& options);

struct FittedSchedule {
  bool found = false;  // false: no start led to a safe schedule (the fields below are unset)
  Normalization normalization = Normalization::frobenius;
  Schedule stored;          // deployed, fp32 coefficients, canonical gauge
  double fit_rms = 0;       // fitting objective (compressed spectra)
  double guard_excess = 0;  // 0: every group within its guard limit
  SafetyReport safety;      // of its designed steps
  int64_t evaluations = 0;
  int64_t method_failures = 0;
};

// Fits K steps for spectra normalised by `normalization`. `shorter`, if given, is the fitted
// schedule of K - 1 steps under the same normalisation: it, followed by a polishing step, is an
// extra start point (docs/tuner.md, "Search"). Deterministic for (shape, options, shorter).
FittedSchedule fit_schedule(Shape shape, Normalization normalization, int64_t steps,
                            const FitSpectra& fit, const TuneOptions& options,
                            const Schedule* shorter, const std::atomic<bool>* cancel);

}  // namespace rootopt::tuner
