// Spectrum family specs ("name:key=value,..."), parameter validation, and the normalisation and
// rescaling every family's samples go through.
#include "rootopt/spectrum_family.h"

#include <algorithm>
#include <cmath>
#include <sstream>

#include "captured_family.h"
#include "check.h"
#include "family_registry.h"
#include "text_split.h"

namespace rootopt {

namespace {

// Shortest decimal text that reads back to exactly `value` (so a spec round-trips).
std::string exact_text(double value) {
  for (int digits = 6; digits < 17; ++digits) {
    std::ostringstream out;
    out.precision(digits);
    out << value;
    if (std::stod(out.str()) == value) return out.str();
  }
  std::ostringstream out;
  out.precision(17);
  out << value;
  return out.str();
}

}  // namespace

std::string SpectrumFamily::spec() const {
  std::string text = name();
  const char* separator = ":";
  for (const auto& [key, value] : params()) {
    text += separator + key + "=" + exact_text(value);
    separator = ",";
  }
  return text;
}

std::vector<std::string> family_names() {
  return {"marchenko-pastur", "power-law", "low-rank", "decay-floor", "captured"};
}

namespace {

double parse_value(const std::string& family, const std::string& key, const std::string& text) {
  size_t used = 0;
  double value = 0;
  try {
    value = std::stod(text, &used);
  } catch (const std::exception&) {
    used = 0;
  }
  ROOTOPT_CHECK(used == text.size() && !text.empty() && std::isfinite(value), "family '", family,
                "': parameter ", key, "='", text, "' is not a finite number");
  return value;
}

}  // namespace

std::unique_ptr<SpectrumFamily> make_family(const std::string& spec) {
  const size_t colon = spec.find(':');
  const std::string name = spec.substr(0, colon);
  FamilyParams params;
  std::map<std::string, std::string> text_options;  // captured's set= and file=
  if (colon != std::string::npos) {
    for (const std::string& item : detail::split(spec.substr(colon + 1), ',')) {
      const size_t eq = item.find('=');
      ROOTOPT_CHECK(eq != std::string::npos && eq > 0, "family spec '", spec, "': item '", item,
                    "' is not key=value");
      const std::string key = item.substr(0, eq), value = item.substr(eq + 1);
      ROOTOPT_CHECK(!params.count(key) && !text_options.count(key), "family spec '", spec,
                    "': parameter ", key, " given twice");
      if (name == "captured" && (key == "set" || key == "file"))
        text_options[key] = value;
      else
        params[key] = parse_value(name, key, value);
    }
  }
  if (name == "marchenko-pastur") return detail::make_marchenko_pastur(params);
  if (name == "power-law") return detail::make_power_law(params);
  if (name == "low-rank") return detail::make_low_rank(params);
  if (name == "decay-floor") return detail::make_decay_floor(params);
  if (name == "captured") return detail::make_captured_from_options(text_options, params);
  ROOTOPT_FAIL("unknown spectrum family '", name,
               "' (known: marchenko-pastur, power-law, low-rank, decay-floor, captured)");
}

namespace detail {

FamilyParams merge_params(const std::string& family, const FamilyParams& defaults,
                          const FamilyParams& given) {
  FamilyParams merged = defaults;
  for (const auto& [key, value] : given) {
    if (!defaults.count(key)) {
      std::string known;
      for (const auto& d : defaults) known += (known.empty() ? "" : ", ") + d.first;
      ROOTOPT_FAIL("family '", family, "': unknown parameter '", key, "' (known: ", known, ")");
    }
    merged[key] = value;
  }
  return merged;
}

void check_range(const std::string& family, const FamilyParams& params, const std::string& key,
                 double lo, double hi) {
  const double v = params.at(key);
  ROOTOPT_CHECK(std::isfinite(v) && v >= lo && v <= hi, "family '", family, "': ", key, " = ", v,
                " is outside [", lo, ", ", hi, "]");
}

void check_ordered(const std::string& family, const FamilyParams& params, const std::string& lo_key,
                   const std::string& hi_key) {
  ROOTOPT_CHECK(params.at(lo_key) <= params.at(hi_key), "family '", family, "': ", lo_key, " = ",
                params.at(lo_key), " exceeds ", hi_key, " = ", params.at(hi_key));
}

}  // namespace detail

Spectrum normalised_spectrum(std::vector<double> values) {
  ROOTOPT_CHECK(!values.empty(), "cannot normalise an empty spectrum");
  for (size_t i = 0; i < values.size(); ++i)
    ROOTOPT_CHECK(std::isfinite(values[i]) && values[i] >= 0, "singular value ", i, " = ",
                  values[i], " is negative or not finite");
  std::sort(values.begin(), values.end(), std::greater<double>());
  ROOTOPT_CHECK(values.front() > 0, "cannot normalise an all-zero spectrum of ", values.size(),
                " values");
  // Bring the largest value into [1, 2) by a power of two, exact for every value (subnormal ones
  // included), so the norm below has full precision whatever the magnitude: a subnormal norm
  // left the sum of squares off 1 by 1e-4 (found by the captured_spectra fuzzer). For normal
  // inputs the result is bit-identical to normalising unscaled.
  const int exponent = std::ilogb(values.front());
  for (double& v : values) v = std::ldexp(v, -exponent);
  const double top = values.front();
  // Sum the squares of values / top, so spectra near over- or underflow still normalise.
  double scaled = 0;
  for (double v : values) scaled += (v / top) * (v / top);
  const double norm = top * std::sqrt(scaled);
  for (double& v : values) v /= norm;
  return values;
}

Spectrum rescale_spectrum(const Spectrum& s, int64_t rank) {
  ROOTOPT_CHECK(!s.empty(), "cannot rescale an empty spectrum");
  ROOTOPT_CHECK(rank > 0, "rescale_spectrum: rank must be positive, got ", rank);
  const int64_t n = int64_t(s.size());
  if (n == 1) return normalised_spectrum(Spectrum(static_cast<size_t>(rank), s[0]));
  Spectrum out(static_cast<size_t>(rank));
  for (int64_t j = 0; j < rank; ++j) {
    // Cell centres in relative index: (j + 1/2) / rank of the target, (i + 1/2) / n of the source.
    const double position =
        std::clamp((double(j) + 0.5) * double(n) / double(rank) - 0.5, 0.0, double(n - 1));
    const int64_t i = std::min<int64_t>(int64_t(position), n - 2);
    const double w = position - double(i);
    out[size_t(j)] = (1.0 - w) * s[size_t(i)] + w * s[size_t(i + 1)];
  }
  return normalised_spectrum(std::move(out));
}

}  // namespace rootopt
