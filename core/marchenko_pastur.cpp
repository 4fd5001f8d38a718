// The "marchenko-pastur" family: the singular values of an m x n Gaussian matrix, the spectrum of
// pure isotropic noise (the flattest, highest-stable-rank case a momentum buffer can approach).
#include <Eigen/Core>
#include <algorithm>
#include <cmath>

#include "check.h"
#include "family_registry.h"
#include "lapack_svd.h"

namespace rootopt::detail {
namespace {

constexpr double kPi = 3.14159265358979323846;
// Exact sampling forms an r x c Gaussian matrix; beyond this many entries the law is used.
constexpr int64_t kExactMaxEntries = int64_t(1) << 22;

// Inverse CDF of the singular values of G / sqrt(c), G an r x c Gaussian matrix, r <= c, in the
// limit of large r (Marchenko & Pastur 1967). With lambda = r / c the eigenvalues x = s^2 have
// density sqrt((b - x)(x - a)) / (2 pi lambda x) on [a, b] = [(1 - sqrt lambda)^2,
// (1 + sqrt lambda)^2], so s has density sqrt((b - s^2)(s^2 - a)) / (pi lambda s) on
// [1 - sqrt lambda, 1 + sqrt lambda] (bounded even for lambda = 1, unlike the density of x).
class MarchenkoPasturQuantiles {
 public:
  explicit MarchenkoPasturQuantiles(double lambda) {
    const double lo = 1.0 - std::sqrt(lambda), hi = 1.0 + std::sqrt(lambda);
    const double a = lo * lo, b = hi * hi;
    // s = lo + (hi - lo)(1 - cos t)/2 clusters nodes at both edges, where the density has square
    // root behaviour, and cancels it: ds = (hi - lo)/2 sin t dt.
    constexpr int kNodes = 8193;
    s_.resize(kNodes);
    cdf_.resize(kNodes);
    double previous = 0.0;
    for (int i = 0; i < kNodes; ++i) {
      const double t = kPi * i / (kNodes - 1);
      const double s = lo + (hi - lo) * (1.0 - std::cos(t)) / 2.0;
      const double s2 = s * s;
      const double density =
          s > 0 ? std::sqrt(std::max(0.0, (b - s2) * (s2 - a))) / (kPi * lambda * s) : 0.0;
      const double integrand = density * (hi - lo) / 2.0 * std::sin(t);
      s_[i] = s;
      cdf_[i] = i == 0 ? 0.0 : cdf_[i - 1] + 0.5 * (previous + integrand) * (kPi / (kNodes - 1));
      previous = integrand;
    }
    for (double& c : cdf_) c /= cdf_.back();  // removes the quadrature's O(h^2) mass error
  }

  double quantile(double u) const {
    const auto it = std::upper_bound(cdf_.begin(), cdf_.end(), u);
    if (it == cdf_.begin()) return s_.front();
    if (it == cdf_.end()) return s_.back();
    const size_t i = size_t(it - cdf_.begin());
    const double w = (u - cdf_[i - 1]) / std::max(cdf_[i] - cdf_[i - 1], 1e-300);
    return s_[i - 1] + w * (s_[i] - s_[i - 1]);
  }

 private:
  std::vector<double> s_, cdf_;
};

// Singular values of a sampled r x c Gaussian matrix, by LAPACK dgesdd (values only).
Spectrum exact_gaussian_singular_values(int64_t r, int64_t c, std::mt19937_64& rng) {
  std::normal_distribution<double> normal;
  return lapack_singular_values(Eigen::MatrixXd::NullaryExpr(r, c, [&]() { return normal(rng); }));
}

// Stratified sampling of the law: value i sits at quantile (i + U_i) / r, U_i ~ U[0, 1), so the
// sample is random (seeded jitter) yet always covers the whole law evenly.
Spectrum law_gaussian_singular_values(int64_t r, int64_t c, std::mt19937_64& rng) {
  const MarchenkoPasturQuantiles law(double(r) / double(c));
  std::uniform_real_distribution<double> jitter(0.0, 1.0);
  Spectrum s(static_cast<size_t>(r));
  for (int64_t i = 0; i < r; ++i) s[size_t(i)] = law.quantile((double(i) + jitter(rng)) / r);
  std::sort(s.begin(), s.end(), std::greater<double>());
  return s;
}

class MarchenkoPasturFamily final : public SpectrumFamily {
 public:
  explicit MarchenkoPasturFamily(FamilyParams params) : params_(std::move(params)) {}
  std::string name() const override { return "marchenko-pastur"; }
  FamilyParams params() const override { return params_; }
  Spectrum sample(Shape shape, uint64_t seed) const override {
    std::mt19937_64 rng(seed);
    return normalised_spectrum(
        gaussian_singular_values(shape, int64_t(params_.at("exact_max_rank")), rng));
  }

 private:
  FamilyParams params_;
};

}  // namespace

Spectrum gaussian_singular_values(Shape shape, int64_t exact_max_rank, std::mt19937_64& rng) {
  const Shape c = shape.canonical();
  ROOTOPT_CHECK(c.rows > 0, "spectrum of a shape with a zero dimension: ", to_string(shape));
  if (c.rows <= exact_max_rank && c.rows * c.cols <= kExactMaxEntries)
    return exact_gaussian_singular_values(c.rows, c.cols, rng);
  return law_gaussian_singular_values(c.rows, c.cols, rng);
}

std::unique_ptr<SpectrumFamily> make_marchenko_pastur(const FamilyParams& given) {
  const std::string name = "marchenko-pastur";
  FamilyParams p = merge_params(name, {{"exact_max_rank", 128}}, given);
  check_range(name, p, "exact_max_rank", 0, 4096);
  return std::make_unique<MarchenkoPasturFamily>(std::move(p));
}

}  // namespace rootopt::detail
