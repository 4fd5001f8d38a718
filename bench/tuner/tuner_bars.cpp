// The precision bars of issues 9 and 10 for a tuned table (docs/results/tuner.md), measured
// independently of the tuner's own report: fresh seeds, more samples, each source on its own.
//
//   tuner_bars --table T.h5 [--samples 256] [--matrices 8] [--seed 7] [--max-rank 256]
//
// Per shape of the table and per source of spectra ("mixture": the default mixture, fresh
// samples; "real": captured:set=heldout, models and corpora never used in fitting), the error of
// the table's recipe and of every deployed anchor (compared_builtins(): Muon, Polar Express, You,
// ROOT paper where published; 5 standard steps, Frobenius) and of Polar Express under Schatten-8
// (the ablation):
//   - exact: mean RMS of the composed map on `samples` spectra (fp64, spectral_error);
//   - bf16 and fp32: mean ||X_K - U V^T||_F / sqrt(r) of the recipe's arithmetic (core's
//     emulation, newton_schulz) on `matrices` matrices U diag(s) V^T at the proxy shape (same
//     aspect ratio, rank <= max-rank), against the polar factor of an fp64 SVD.
// Prints one row per (shape, source) with tuned / best anchor ratios, tuned / Polar Express
// ratios, and the ablation's ratio to the best anchor, then the median and worst over shapes.
#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdlib>
#include <functional>
#include <limits>
#include <map>
#include <string>
#include <vector>

#include "rootopt/coefficient_table.h"
#include "rootopt/cost_model.h"
#include "rootopt/matrix_reference.h"
#include "rootopt/shape.h"
#include "rootopt/spectrum_family.h"
#include "rootopt/tuner.h"
#include "seeding.h"

namespace rootopt {
namespace {

struct Args {
  std::string table;
  int64_t samples = 256;
  int64_t matrices = 8;
  uint64_t seed = 7;
  int64_t max_rank = 256;
};

Args parse(int argc, char** argv) {
  Args a;
  for (int i = 1; i < argc; ++i) {
    const std::string flag = argv[i];
    if (i + 1 >= argc) throw Error("missing value after " + flag);
    const std::string value = argv[++i];
    if (flag == "--table") {
      a.table = value;
    } else if (flag == "--samples") {
      a.samples = std::stoll(value);
    } else if (flag == "--matrices") {
      a.matrices = std::stoll(value);
    } else if (flag == "--seed") {
      a.seed = std::stoull(value);
    } else if (flag == "--max-rank") {
      a.max_rank = std::stoll(value);
    } else {
      throw Error("unknown flag " + flag);
    }
  }
  if (a.table.empty()) throw Error("--table is required");
  if (a.samples < 1 || a.matrices < 1 || a.max_rank < 2 || a.max_rank > kMaxProxyRank)
    throw Error("--samples and --matrices must be positive, --max-rank in [2, " +
                std::to_string(kMaxProxyRank) + "]");
  return a;
}

// The levels at which a recipe is measured.
enum Level { kExact, kBf16, kFp32, kLevels };
const char* const kLevelNames[kLevels] = {"exact", "bf16", "fp32"};

// Mean error of each recipe at each level on one source's spectra.
using Errors = std::vector<std::array<double, kLevels>>;

// A source of spectra: (shape, seed) -> a Frobenius-normalised spectrum.
using Source = std::function<Spectrum(Shape, uint64_t)>;

Errors measure(const std::vector<Recipe>& recipes, Shape shape, const Source& source, const Args& a,
               uint64_t stream) {
  Errors errors(recipes.size(), {0, 0, 0});
  const uint64_t seed = detail::derive_seed(
      a.seed, detail::splitmix64(uint64_t(shape.rows) * 1000003u + uint64_t(shape.cols)) ^ stream);
  for (int64_t i = 0; i < a.samples; ++i) {
    const Spectrum s = source(shape, detail::derive_seed(seed, uint64_t(i)));
    for (size_t r = 0; r < recipes.size(); ++r)
      errors[r][kExact] += spectral_error(recipes[r], s).rms / double(a.samples);
  }
  // The proxy: same aspect ratio, rank at most max_rank (as the tuner's validation).
  const Shape proxy = proxy_shape(shape, a.max_rank);
  const auto solver = make_best_polar_solver();
  for (int64_t i = 0; i < a.matrices; ++i) {
    const uint64_t matrix_seed = detail::derive_seed(seed, uint64_t(a.samples + 2 * i));
    const Spectrum s = source(proxy, matrix_seed);
    const Eigen::MatrixXd b = matrix_with_spectrum(proxy, s, detail::splitmix64(matrix_seed));
    const PolarFactor reference = solver->polar(b);
    for (size_t r = 0; r < recipes.size(); ++r)
      for (const auto& [level, precision] :
           {std::pair{kBf16, Precision::bf16}, std::pair{kFp32, Precision::fp32}}) {
        const Eigen::MatrixXd x = newton_schulz(b, recipes[r], precision);
        errors[r][level] += (x.allFinite() ? matrix_error(x, reference).rms
                                           : std::numeric_limits<double>::infinity()) /
                            double(a.matrices);
      }
  }
  return errors;
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  const size_t n = v.size();
  return n == 0 ? NAN : n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

int run(const Args& a) {
  const CoefficientTable table = CoefficientTable::load(a.table);
  const SpectrumMixture mixture = SpectrumMixture::default_mixture();
  const std::shared_ptr<const SpectrumFamily> real = make_family("captured:set=heldout");
  const std::vector<std::pair<std::string, Source>> sources{
      {"mixture", [&mixture](Shape s, uint64_t seed) { return mixture.sample(s, seed, 0); }},
      {"real", [&real](Shape s, uint64_t seed) { return real->sample(s, seed); }}};

  fmt::print("table {}: {} samples (exact), {} matrices per source (bf16, fp32), seed {}\n",
             a.table, a.samples, a.matrices, a.seed);
  fmt::print(
      "{:>11} {:>7} {:<46} {:>5} | {:>7} {:>7} {:>6} {:>6} {:>6} | {:>7} {:>7} {:>6} {:>6} {:>6} | "
      "{:>7} {:>7} {:>6} {:>6}\n",
      "shape", "source", "recipe", "cost", "exact", "anchor", "ratio", "vs PE", "PE-S8", "bf16",
      "anchor", "ratio", "vs PE", "PE-S8", "fp32", "anchor", "ratio", "vs PE");
  // ratios[source][level]: tuned / best anchor per shape; [2 + level]: tuned / Polar Express.
  std::map<std::string, std::map<std::string, std::vector<double>>> ratios;
  for (int64_t i = 0; i < table.size(); ++i) {
    const Shape shape = table.shapes()[size_t(i)];
    std::vector<Recipe> recipes{table.recipe(i)};
    std::vector<std::string> names{"tuned"};
    for (const std::string& name : compared_builtins()) {
      if (!builtin_is_published_for(name, shape)) continue;
      recipes.push_back(builtin_recipe(name, shape, kDeployedSteps));
      names.push_back(name);
    }
    Recipe pe_s8 = builtin_recipe("polar-express", shape, kDeployedSteps);
    pe_s8.normalization = Normalization::schatten8;
    recipes.push_back(pe_s8);
    const size_t pe =
        size_t(std::find(names.begin(), names.end(), "polar-express") - names.begin());
    const size_t ablation = recipes.size() - 1;
    const double cost = recipe_cost(table.recipe(i), shape, Precision::bf16, kGpuProfile);
    uint64_t stream = 0;
    for (const auto& [source_name, source] : sources) {
      const Errors e = measure(recipes, shape, source, a, ++stream);
      std::string row = fmt::format("{:>11} {:>7} {:<46} {:>5.2f}", to_string(shape), source_name,
                                    table.recipe(i).describe(), cost);
      for (int level = 0; level < kLevels; ++level) {
        double best = std::numeric_limits<double>::infinity();
        for (size_t r = 1; r < ablation; ++r) best = std::min(best, e[r][size_t(level)]);
        const double tuned = e[0][size_t(level)];
        ratios[source_name][kLevelNames[level]].push_back(tuned / best);
        ratios[source_name][std::string("PE ") + kLevelNames[level]].push_back(
            tuned / e[pe][size_t(level)]);
        row += fmt::format(" | {:>7.4f} {:>7.4f} {:>6.3f} {:>6.3f}", tuned, best, tuned / best,
                           tuned / e[pe][size_t(level)]);
        if (level != kFp32) {
          const double ab = e[ablation][size_t(level)] / best;
          ratios[source_name][std::string("PE-S8 ") + kLevelNames[level]].push_back(ab);
          row += fmt::format(" {:>6.3f}", ab);
        }
      }
      fmt::print("{}\n", row);
      std::fflush(stdout);
    }
  }
  fmt::print(
      "\nratio = tuned / best deployed anchor; vs PE = tuned / Polar Express as deployed; PE-S8 = "
      "Polar Express under Schatten-8 / best deployed anchor (ablation)\n");
  for (const auto& [source, by_level] : ratios)
    for (const auto& [level, v] : by_level)
      fmt::print("{:>7} {:<11} median {:.3f}  worst {:.3f}\n", source, level, median(v),
                 *std::max_element(v.begin(), v.end()));
  return 0;
}

}  // namespace
}  // namespace rootopt

int main(int argc, char** argv) {
  try {
    return rootopt::run(rootopt::parse(argc, argv));
  } catch (const std::exception& e) {
    fmt::print(stderr, "tuner_bars: {}\n", e.what());
    return 1;
  }
}
