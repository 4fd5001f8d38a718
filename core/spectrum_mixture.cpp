// Weighted mixtures of spectrum families, and the documented default mixture the tuner fits on.
#include <cmath>
#include <random>
#include <sstream>

#include "check.h"
#include "rootopt/spectrum_family.h"
#include "seeding.h"
#include "text_split.h"

namespace rootopt {
namespace {

// Splits "a:k=1,k2=2,b*2,c:k=3" into component texts: an item holding '=' with no ':' before it
// continues the previous component's parameter list.
std::vector<std::string> split_components(const std::string& text) {
  std::vector<std::string> components;
  for (const std::string& item : detail::split(text, ',')) {
    const size_t eq = item.find('='), colon = item.find(':');
    const bool continues = eq != std::string::npos && (colon == std::string::npos || colon > eq);
    if (continues) {
      ROOTOPT_CHECK(!components.empty(), "mixture '", text, "': starts with parameter '", item,
                    "' before any family name");
      components.back() += "," + item;
    } else {
      components.push_back(item);
    }
  }
  return components;
}

}  // namespace

void SpectrumMixture::add(std::shared_ptr<const SpectrumFamily> family, double weight) {
  ROOTOPT_ASSERT(family != nullptr, "mixture: null family");
  ROOTOPT_CHECK(std::isfinite(weight) && weight > 0, "mixture: weight of ", family->spec(),
                " must be positive and finite, got ", weight);
  components_.emplace_back(std::move(family), weight);
}

// Weights: docs/spectrum-families.md. Real momentum has low stable rank (top normalised singular
// value ~0.3-0.4, median ~0.01), so captured spectra and the low-rank/decay shapes dominate;
// Marchenko-Pastur keeps the flat, high-stable-rank corner covered.
SpectrumMixture SpectrumMixture::default_mixture() {
  return parse("captured*0.4,low-rank*0.2,decay-floor*0.15,power-law*0.15,marchenko-pastur*0.1");
}

SpectrumMixture SpectrumMixture::parse(const std::string& text) {
  SpectrumMixture mixture;
  for (const std::string& component : split_components(text)) {
    const size_t colon = component.find(':');
    std::string head = component.substr(0, colon);
    const std::string rest = colon == std::string::npos ? "" : component.substr(colon);
    double weight = 1.0;
    if (const size_t star = head.find('*'); star != std::string::npos) {
      const std::string w = head.substr(star + 1);
      size_t used = 0;
      try {
        weight = std::stod(w, &used);
      } catch (const std::exception&) {
        used = 0;
      }
      ROOTOPT_CHECK(!w.empty() && used == w.size(), "mixture '", text, "': weight '", w, "' of '",
                    component, "' is not a number");
      head = head.substr(0, star);
    }
    mixture.add(make_family(head + rest), weight);
  }
  ROOTOPT_CHECK(!mixture.components_.empty(), "mixture '", text, "' names no family");
  return mixture;
}

Spectrum SpectrumMixture::sample(Shape shape, uint64_t seed, int64_t index) const {
  ROOTOPT_CHECK(!components_.empty(), "sampling from an empty mixture");
  std::mt19937_64 rng(detail::derive_seed(seed, uint64_t(index)));
  std::vector<double> weights;
  for (const auto& component : components_) weights.push_back(component.second);
  const size_t pick = std::discrete_distribution<size_t>(weights.begin(), weights.end())(rng);
  return components_[pick].first->sample(shape, rng());
}

std::vector<Spectrum> SpectrumMixture::sample_many(Shape shape, uint64_t seed,
                                                   int64_t count) const {
  ROOTOPT_CHECK(count >= 0, "sample_many: negative count ", count);
  std::vector<Spectrum> samples;
  samples.reserve(size_t(count));
  for (int64_t i = 0; i < count; ++i) samples.push_back(sample(shape, seed, i));
  return samples;
}

std::string SpectrumMixture::describe() const {
  std::ostringstream out;
  out.precision(6);
  for (size_t i = 0; i < components_.size(); ++i)
    out << (i ? " + " : "") << components_[i].second << " * " << components_[i].first->spec();
  return out.str();
}

}  // namespace rootopt
