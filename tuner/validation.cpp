#include "validation.h"

#include <Eigen/Eigenvalues>
#include <algorithm>
#include <cmath>
#include <limits>

#include "check.h"

namespace rootopt::tuner {
namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

}  // namespace

HeldoutSpectra heldout_spectra(Shape shape, const TuneOptions& options) {
  HeldoutSpectra out;
  out.mixture = options.mixture->sample_many(
      shape, derive_seed(options.seed, shape, SeedStream::heldout), options.heldout_samples);
  if (options.heldout_real) {
    const uint64_t seed = derive_seed(options.seed, shape, SeedStream::heldout_real);
    for (int64_t i = 0; i < options.heldout_samples; ++i)
      out.real.push_back(options.heldout_real->sample(shape, splitmix64(seed + uint64_t(i))));
  }
  return out;
}

double mean_rms(const Recipe& recipe, const std::vector<Spectrum>& spectra) {
  if (spectra.empty()) return kNaN;
  double total = 0;
  for (const Spectrum& s : spectra) total += spectral_error(recipe, s).rms;
  return total / double(spectra.size());
}

void add_spectral_metrics(const std::string& prefix, const Recipe& recipe,
                          const HeldoutSpectra& heldout, std::map<std::string, double>& metrics) {
  metrics[prefix + "heldout_rms"] = mean_rms(recipe, heldout.mixture);
  metrics[prefix + "heldout_real_rms"] = mean_rms(recipe, heldout.real);
}

MatrixSet prepare_matrix_set(Shape shape, const TuneOptions& options, SeedStream stream,
                             int64_t count) {
  MatrixSet v;
  v.proxy = proxy_shape(shape, options.validation.max_rank);
  const uint64_t seed = derive_seed(options.seed, shape, stream);
  const auto solver = make_best_polar_solver();
  const bool report = stream == SeedStream::report_matrices;
  for (int64_t i = 0; i < count; ++i) {
    const bool real = report && options.heldout_real && i % 2 == 1;
    const uint64_t spectrum_seed = splitmix64(seed + 2 * uint64_t(i));
    const Spectrum s = real ? options.heldout_real->sample(v.proxy, spectrum_seed)
                            : options.mixture->sample(v.proxy, spectrum_seed, i);
    v.matrices.push_back(matrix_with_spectrum(v.proxy, s, splitmix64(seed + 2 * uint64_t(i) + 1)));
    v.references.push_back(solver->polar(v.matrices.back()));
  }
  return v;
}

SafetySet prepare_safety_set(Shape shape, const TuneOptions& options) {
  SafetySet set;
  set.proxy = proxy_shape(shape, options.validation.max_rank);
  const uint64_t seed = derive_seed(options.seed, shape, SeedStream::safety_matrices);
  const size_t rank = size_t(set.proxy.rank());
  // Rank 1 exactly, rank 1 over a floor 1e-4 or 1e-2 of the top value (the cases
  // docs/recipes.md measured), and four signals over a 1e-3 floor.
  struct LowRank {
    const char* label;
    std::vector<double> top;
    double floor;
  };
  const LowRank low_rank[] = {{"rank-1", {1}, 0},
                              {"near-rank-1 (floor 1e-4)", {1}, 1e-4},
                              {"near-rank-1 (floor 1e-2)", {1}, 1e-2},
                              {"rank-4 (floor 1e-3)", {1, 0.5, 0.25, 0.125}, 1e-3}};
  uint64_t index = 0;
  const auto add = [&set](const Spectrum& s, Eigen::MatrixXd m, std::string label) {
    set.matrices.push_back(std::move(m));
    set.spectra.push_back(s);
    set.labels.push_back(std::move(label));
  };
  for (const LowRank& l : low_rank) {
    std::vector<double> values(rank, l.floor);
    for (size_t i = 0; i < l.top.size() && i < rank; ++i) values[i] = l.top[i];
    const Spectrum s = normalised_spectrum(values);
    add(s, matrix_with_spectrum(set.proxy, s, splitmix64(seed + index++)), l.label);
  }
  SpectrumMixture captured;
  for (const auto& [family, weight] : options.mixture->components())
    if (family->name() == "captured") captured.add(family, weight);
  const bool has_captured = !captured.components().empty();
  const SpectrumMixture& source = has_captured ? captured : *options.mixture;
  const std::string what = has_captured ? "captured (fit set)" : "fitting mixture";
  for (int64_t i = 0; i < kSafetyCapturedInputs; ++i) {
    const Spectrum s = source.sample(set.proxy, splitmix64(seed + index), i);
    add(s, matrix_with_spectrum(set.proxy, s, splitmix64(seed + index + 1)), what);
    add(s,
        matrix_with_spectrum(set.proxy, s, splitmix64(seed + index + 1), SingularVectors::coherent),
        what + ", coherent singular vectors");
    index += 2;
  }
  return set;
}

SafetyCheck check_safety(const Recipe& recipe, const SafetySet& set) {
  SafetyCheck out;
  for (size_t i = 0; i < set.matrices.size(); ++i) {
    const Eigen::MatrixXd x = newton_schulz(set.matrices[i], recipe, Precision::bf16);
    double largest = std::numeric_limits<double>::infinity();
    if (x.allFinite()) {
      // sigma_max^2 is the largest eigenvalue of the (short side's) Gram matrix.
      const Eigen::MatrixXd gram = x.rows() <= x.cols() ? Eigen::MatrixXd(x * x.transpose())
                                                        : Eigen::MatrixXd(x.transpose() * x);
      const Eigen::SelfAdjointEigenSolver<Eigen::MatrixXd> eig(gram, Eigen::EigenvaluesOnly);
      largest = std::sqrt(std::max(0.0, eig.eigenvalues().maxCoeff()));
    }
    if (!(largest <= out.max_singular_value)) {
      out.max_singular_value = largest;
      out.worst_input = set.labels[i];
    }
    const double excess = largest - spectral_error(recipe, set.spectra[i]).max_value;
    if (!(excess <= out.max_excess)) {
      out.max_excess = excess;
      out.excess_input = set.labels[i];
    }
  }
  return out;
}

double excess_limit(const SafetyCheck& anchor) {
  return kExcessFactor * std::max(anchor.max_excess, kBf16UnitRoundoff);
}

double matrix_rms(const Recipe& recipe, const MatrixSet& set, Precision working) {
  if (set.matrices.empty()) return kNaN;
  double total = 0;
  for (size_t i = 0; i < set.matrices.size(); ++i) {
    const Eigen::MatrixXd x = newton_schulz(set.matrices[i], recipe, working);
    if (!x.allFinite()) return std::numeric_limits<double>::infinity();
    total += matrix_error(x, set.references[i]).rms;
  }
  return total / double(set.matrices.size());
}

void add_matrix_metrics(const std::string& prefix, const Recipe& recipe, const MatrixSet& set,
                        std::map<std::string, double>& metrics) {
  for (const auto& [precision, name] : {std::pair{Precision::fp32, std::string("fp32")},
                                        std::pair{Precision::bf16, std::string("bf16")}}) {
    const double rms = matrix_rms(recipe, set, precision);
    metrics[prefix + name + "_matrix_rms"] = std::isinf(rms) ? kNaN : rms;
    if (std::isinf(rms)) metrics[prefix + name + "_matrix_diverged"] = 1;
  }
}

}  // namespace rootopt::tuner
