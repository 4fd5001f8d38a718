// Spectrum families: distributions over singular-value spectra of an m x n momentum matrix.
// Every sample is reproducible from (family parameters, shape, seed), has r = min(m, n) values
// in descending order, and is Frobenius-normalised (sum s_i^2 = 1), like X0 = B/||B||_F.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "rootopt/shape.h"
#include "rootopt/spectral.h"

namespace rootopt {

// Parameters are named doubles so a family is configured from text ("power-law:alpha_min=0.3")
// and recorded in a table's provenance. Each family documents its parameters and defaults.
using FamilyParams = std::map<std::string, double>;

class SpectrumFamily {
 public:
  virtual ~SpectrumFamily() = default;
  virtual std::string name() const = 0;     // e.g. "power-law"
  virtual FamilyParams params() const = 0;  // effective parameters, defaults included
  virtual Spectrum sample(Shape shape, uint64_t seed) const = 0;
  // "name:key=value,key=value" form, parseable by make_family(). Families with text options
  // (captured's set=/file=) override it.
  virtual std::string spec() const;
  // The parts a sample picks one of with equal probability, each a family of its own (captured:
  // one per source model), for statistics per source such as the tuner's over-fitting guard;
  // empty for a family without such parts (or with only one).
  virtual std::vector<std::shared_ptr<const SpectrumFamily>> sources() const { return {}; }
};

// Families (defaults in parentheses; see docs/spectrum-families.md for how they were chosen):
//   "marchenko-pastur": spectrum of an m x n Gaussian matrix; exact SVD of a sampled Gaussian
//        matrix when r <= exact_max_rank (128), else quantiles of the Marchenko-Pastur law.
//   "power-law":  s_i ~ i^(-alpha), alpha ~ U[alpha_min (0.3), alpha_max (1.5)].
//   "low-rank":   k ~ U{1..max(1, rank_fraction_max (0.05) r)} signal values with log-uniform
//        gains in [1, signal_to_noise_max (100)] over a Marchenko-Pastur noise floor.
//   "decay-floor": s_i = exp(-i / (tau r)) + floor, tau ~ log-U[tau_min (0.01), tau_max (0.3)],
//        floor ~ log-U[floor_min (1e-4), floor_max (1e-2)] relative to s_1.
//   "captured":   real momentum spectra shipped in data/spectra/<set>/*.h5, set=fit (default) or
//        set=heldout (held-out evaluation), or file=a.h5;b.h5; a sample picks a source (the
//        file's `model_id` attribute, else the file) uniformly from the seed, then one of its
//        spectra uniformly, and rescales it to r values by interpolating the normalised spectrum
//        in relative index i/r. Every model weighs the same however many spectra it stored.
// Throws rootopt::Error on an unknown name, unknown key, or out-of-range value.
std::unique_ptr<SpectrumFamily> make_family(const std::string& spec);
std::vector<std::string> family_names();

// Captured spectra from an HDF5 file: every 1-D float dataset (any depth) is one spectrum,
// every 2-D float dataset is a matrix whose spectrum is computed by SVD. The spectra are
// normalised on load. `files` empty means the bundled data/spectra/fit/*.h5. Throws naming the
// file when a file is unreadable, holds no such dataset, or a dataset is not a valid spectrum.
std::unique_ptr<SpectrumFamily> make_captured_family(const std::vector<std::string>& files,
                                                     const FamilyParams& params = {});
// Directory of the bundled data: the ROOTOPT_DATA_DIR environment variable, else data/ of the
// source tree for a binary in the build tree, else <prefix>/share/rootopt for an installed one.
std::string data_directory();

// A weighted mixture: sample i picks a component with probability proportional to its weight,
// from a generator seeded by (seed, i), so any sample can be regenerated on its own.
class SpectrumMixture {
 public:
  void add(std::shared_ptr<const SpectrumFamily> family, double weight);
  // The documented default mixture (marchenko-pastur, power-law, low-rank, decay-floor and
  // captured); see docs/spectrum-families.md.
  static SpectrumMixture default_mixture();
  // Comma-separated family specs with optional weights:
  // "power-law*2,low-rank:rank_fraction_max=0.1".
  static SpectrumMixture parse(const std::string& text);

  Spectrum sample(Shape shape, uint64_t seed, int64_t index) const;
  std::vector<Spectrum> sample_many(Shape shape, uint64_t seed, int64_t count) const;
  std::string describe() const;  // specs and weights, for provenance
  const std::vector<std::pair<std::shared_ptr<const SpectrumFamily>, double>>& components() const {
    return components_;
  }

 private:
  std::vector<std::pair<std::shared_ptr<const SpectrumFamily>, double>> components_;
};

// Frobenius-normalises and sorts descending; throws on negative/non-finite or all-zero input.
Spectrum normalised_spectrum(std::vector<double> values);
// Resamples a normalised spectrum to `rank` values by linear interpolation in relative index.
Spectrum rescale_spectrum(const Spectrum& s, int64_t rank);

}  // namespace rootopt
