// Fuzz target: the spectrum-mixture parser behind --families and `eval --family`
// (rootopt::SpectrumMixture::parse). An accepted mixture must sample, for every component, a
// spectrum with the documented properties: min(m, n) finite, non-negative, descending values
// with unit sum of squares. `captured:set=NAME` reads a tiny data directory written at start-up
// (the bundled sets take 0.1 s to load, 100x a parse).
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <vector>

#include "fuzz_support.h"
#include "h5.h"
#include "rootopt/spectrum_family.h"

namespace {

void check_spectrum(const rootopt::Spectrum& s, rootopt::Shape shape) {
  if (int64_t(s.size()) != shape.rank()) std::abort();
  double sum = 0;
  for (size_t i = 0; i < s.size(); ++i) {
    if (!std::isfinite(s[i]) || s[i] < 0 || (i > 0 && s[i] > s[i - 1])) std::abort();
    sum += s[i] * s[i];
  }
  // Normalised in fp64: r values, each rounding once, stay far inside 1e-12 of 1.
  if (std::abs(sum - 1) > 1e-12) std::abort();
}

}  // namespace

// <tmp>/rootopt_fuzz_data_<pid>/spectra/{fit,heldout}/tiny.h5, two spectra each; removed at exit.
extern "C" int LLVMFuzzerInitialize(int*, char***) {
  namespace fs = std::filesystem;
  static const fs::path data =
      fs::temp_directory_path() / ("rootopt_fuzz_data_" + std::to_string(::getpid()));
  for (const char* set : {"fit", "heldout"}) {
    fs::create_directories(data / "spectra" / set);
    const rootopt::h5::Id file =
        rootopt::h5::create_file((data / "spectra" / set / "tiny.h5").string());
    const std::vector<double> spectrum{3, 2, 1, 0.5}, matrix{1, 0, 0, 0, 2, 0};
    rootopt::h5::write_doubles(file, "/spectrum", {4}, spectrum.data());
    rootopt::h5::write_doubles(file, "/matrix", {2, 3}, matrix.data());
  }
  ::setenv("ROOTOPT_DATA_DIR", data.c_str(), 1);
  std::atexit([] {
    std::error_code ec;
    fs::remove_all(data, ec);
  });
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  rootopt::fuzz::expect_clean([&] {
    const rootopt::SpectrumMixture mixture = rootopt::SpectrumMixture::parse(text);
    for (const rootopt::Shape shape : {rootopt::Shape{1, 1}, rootopt::Shape{5, 3}}) {
      for (int64_t i = 0; i < 4; ++i) check_spectrum(mixture.sample(shape, 7, i), shape);
      for (const auto& component : mixture.components())
        check_spectrum(component.first->sample(shape, 11), shape);
    }
    (void)mixture.describe();
  });
  return 0;
}
