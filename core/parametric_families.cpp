// The synthetic spectrum families besides Marchenko-Pastur: power-law decay, low-rank signal over
// a noise floor, and smooth decay into a floor. Parameters and defaults: docs/spectrum-families.md.
#include <cmath>

#include "check.h"
#include "family_registry.h"

namespace rootopt::detail {
namespace {

double log_uniform(double lo, double hi, std::mt19937_64& rng) {
  return std::exp(std::uniform_real_distribution<double>(std::log(lo), std::log(hi))(rng));
}

// Shared plumbing: name, effective parameters, and sample() = normalise(draw(r, rng)).
class ParametricFamily : public SpectrumFamily {
 public:
  ParametricFamily(std::string name, FamilyParams params)
      : name_(std::move(name)), params_(std::move(params)) {}
  std::string name() const override { return name_; }
  FamilyParams params() const override { return params_; }
  Spectrum sample(Shape shape, uint64_t seed) const override {
    ROOTOPT_CHECK(shape.rank() > 0, name_, ": shape with a zero dimension: ", to_string(shape));
    std::mt19937_64 rng(seed);
    return normalised_spectrum(draw(shape, rng));
  }

 protected:
  double param(const std::string& key) const { return params_.at(key); }
  virtual Spectrum draw(Shape shape, std::mt19937_64& rng) const = 0;

 private:
  std::string name_;
  FamilyParams params_;
};

// s_i = i^-alpha, alpha ~ U[alpha_min, alpha_max]: heavy-tailed spectra of trained weights and
// gradients (a straight line on a log-log plot).
class PowerLawFamily final : public ParametricFamily {
 public:
  using ParametricFamily::ParametricFamily;

 private:
  Spectrum draw(Shape shape, std::mt19937_64& rng) const override {
    const double alpha =
        std::uniform_real_distribution<double>(param("alpha_min"), param("alpha_max"))(rng);
    Spectrum s(static_cast<size_t>(shape.rank()));
    for (size_t i = 0; i < s.size(); ++i) s[i] = std::pow(double(i + 1), -alpha);
    return s;
  }
};

// k signal directions with gains log-U[1, signal_to_noise_max] times the noise edge, on top of a
// Marchenko-Pastur noise floor (largest noise value = 1): a low-rank gradient plus minibatch noise.
class LowRankFamily final : public ParametricFamily {
 public:
  using ParametricFamily::ParametricFamily;

 private:
  Spectrum draw(Shape shape, std::mt19937_64& rng) const override {
    const int64_t r = shape.rank();
    const int64_t k_max = std::max<int64_t>(1, int64_t(param("rank_fraction_max") * double(r)));
    const int64_t k = std::uniform_int_distribution<int64_t>(1, k_max)(rng);
    Spectrum s = gaussian_singular_values(shape, 128, rng);
    const double edge = s.front();
    for (double& v : s) v /= edge;
    for (int64_t j = 0; j < k; ++j)
      s[size_t(j)] = log_uniform(1.0, param("signal_to_noise_max"), rng);
    return s;
  }
};

// s_i = exp(-i / (tau r)) + floor (i from 0): a smooth decay of width tau r into a flat floor
// relative to s_1, the shape captured momentum spectra show (few large values, long flat tail).
class DecayFloorFamily final : public ParametricFamily {
 public:
  using ParametricFamily::ParametricFamily;

 private:
  Spectrum draw(Shape shape, std::mt19937_64& rng) const override {
    const double tau = log_uniform(param("tau_min"), param("tau_max"), rng);
    const double floor = log_uniform(param("floor_min"), param("floor_max"), rng);
    const double r = double(shape.rank());
    Spectrum s(static_cast<size_t>(shape.rank()));
    for (size_t i = 0; i < s.size(); ++i) s[i] = std::exp(-double(i) / (tau * r)) + floor;
    return s;
  }
};

}  // namespace

std::unique_ptr<SpectrumFamily> make_power_law(const FamilyParams& given) {
  const std::string name = "power-law";
  FamilyParams p = merge_params(name, {{"alpha_min", 0.3}, {"alpha_max", 1.5}}, given);
  check_range(name, p, "alpha_min", 0.0, 10.0);
  check_range(name, p, "alpha_max", 0.0, 10.0);
  check_ordered(name, p, "alpha_min", "alpha_max");
  return std::make_unique<PowerLawFamily>(name, std::move(p));
}

std::unique_ptr<SpectrumFamily> make_low_rank(const FamilyParams& given) {
  const std::string name = "low-rank";
  FamilyParams p =
      merge_params(name, {{"rank_fraction_max", 0.05}, {"signal_to_noise_max", 100.0}}, given);
  check_range(name, p, "rank_fraction_max", 0.0, 1.0);
  check_range(name, p, "signal_to_noise_max", 1.0, 1e8);
  return std::make_unique<LowRankFamily>(name, std::move(p));
}

std::unique_ptr<SpectrumFamily> make_decay_floor(const FamilyParams& given) {
  const std::string name = "decay-floor";
  FamilyParams p = merge_params(
      name, {{"tau_min", 0.01}, {"tau_max", 0.3}, {"floor_min", 1e-4}, {"floor_max", 1e-2}}, given);
  check_range(name, p, "tau_min", 1e-6, 100.0);
  check_range(name, p, "tau_max", 1e-6, 100.0);
  check_range(name, p, "floor_min", 1e-12, 1.0);
  check_range(name, p, "floor_max", 1e-12, 1.0);
  check_ordered(name, p, "tau_min", "tau_max");
  check_ordered(name, p, "floor_min", "floor_max");
  return std::make_unique<DecayFloorFamily>(name, std::move(p));
}

}  // namespace rootopt::detail
