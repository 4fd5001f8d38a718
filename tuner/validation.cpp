#include "validation.h"

#include <cmath>
#include <limits>

#include "check.h"
#include "seeds.h"

namespace rootopt::tuner {

HeldoutSpectra heldout_spectra(Shape shape, const TuneOptions& options) {
  HeldoutSpectra out;
  out.mixture = options.mixture->sample_many(
      shape, derive_seed(options.seed, shape, SeedStream::heldout), options.heldout_samples);
  if (options.heldout_real) {
    const uint64_t seed = derive_seed(options.seed, shape, SeedStream::heldout_real);
    for (int64_t i = 0; i < options.heldout_samples; ++i)
      out.real.push_back(options.heldout_real->sample(shape, mix64(seed + uint64_t(i))));
  }
  return out;
}

double mean_rms(const Schedule& schedule, const std::vector<Spectrum>& spectra) {
  if (spectra.empty()) return std::numeric_limits<double>::quiet_NaN();
  double total = 0;
  for (const Spectrum& s : spectra) total += spectral_error(schedule, s).rms;
  return total / double(spectra.size());
}

void add_spectral_metrics(const std::string& prefix, const Schedule& schedule,
                          const HeldoutSpectra& heldout, std::map<std::string, double>& metrics) {
  metrics[prefix + "heldout_rms"] = mean_rms(schedule, heldout.mixture);
  metrics[prefix + "heldout_real_rms"] = mean_rms(schedule, heldout.real);
}

MatrixValidation prepare_matrix_validation(Shape shape, const TuneOptions& options) {
  MatrixValidation v;
  v.proxy = proxy_shape(shape, options.validation.max_rank);
  const uint64_t seed = derive_seed(options.seed, shape, SeedStream::matrices);
  const auto solver = make_best_polar_solver();
  for (int64_t i = 0; i < options.validation.matrices; ++i) {
    const bool real = options.heldout_real && i % 2 == 1;
    const uint64_t spectrum_seed = mix64(seed + 2 * uint64_t(i));
    const Spectrum s = real ? options.heldout_real->sample(v.proxy, spectrum_seed)
                            : options.mixture->sample(v.proxy, spectrum_seed, i);
    v.matrices.push_back(matrix_with_spectrum(v.proxy, s, mix64(seed + 2 * uint64_t(i) + 1)));
    v.references.push_back(solver->polar(v.matrices.back()));
  }
  return v;
}

void add_matrix_metrics(const std::string& prefix, const Schedule& schedule,
                        const MatrixValidation& validation,
                        std::map<std::string, double>& metrics) {
  const std::pair<Precision, const char*> precisions[] = {{Precision::fp32, "fp32_matrix_rms"},
                                                          {Precision::bf16, "bf16_matrix_rms"}};
  for (const auto& [precision, column] : precisions) {
    double total = 0;
    for (size_t i = 0; i < validation.matrices.size(); ++i)
      total += matrix_error(newton_schulz(validation.matrices[i], schedule, precision),
                            validation.references[i])
                   .rms;
    metrics[prefix + column] = validation.matrices.empty()
                                   ? std::numeric_limits<double>::quiet_NaN()
                                   : total / double(validation.matrices.size());
  }
}

}  // namespace rootopt::tuner
