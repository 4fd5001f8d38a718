// Coefficient table costs. Baseline for load: reading /shapes and /coefficients with the HDF5
// helpers and no validation, measured in the same run, so the ratio is validation (the composed
// map of every recipe included) + bookkeeping. Version 1 against version 2 of the same table: the
// legacy reader against libhdf5.
#include <benchmark/benchmark.h>
#include <unistd.h>

#include <filesystem>
#include <random>

#include "h5.h"
#include "rootopt/coefficient_table.h"

namespace {

namespace fs = std::filesystem;
constexpr int64_t kSteps = 5;

// A table of `count` distinct random shapes, each with Polar Express perturbed by a relative 1e-3
// (random bits, and maps the load-time checks accept), and two metrics.
rootopt::CoefficientTable random_table(int64_t count) {
  std::mt19937_64 rng(1);
  std::uniform_int_distribution<int64_t> dim(64, 16384);
  std::normal_distribution<double> normal;
  const rootopt::Schedule base = rootopt::builtin_schedule("polar-express", {1, 1}, kSteps);
  rootopt::CoefficientTable table;
  while (table.size() < count) {
    std::vector<rootopt::QuinticStep> steps;
    for (const rootopt::QuinticStep& st : base.steps())
      steps.push_back({st.a * (1 + 1e-3 * normal(rng)), st.b * (1 + 1e-3 * normal(rng)),
                       st.c * (1 + 1e-3 * normal(rng))});
    table.set({dim(rng), dim(rng)}, rootopt::Schedule("bench", steps),
              {{"fit_rms", normal(rng)}, {"envelope", normal(rng)}});
  }
  return table;
}

std::string table_file(int64_t count) {
  const std::string path =
      (fs::temp_directory_path() /
       ("rootopt_table_bench_" + std::to_string(::getpid()) + "_" + std::to_string(count) + ".h5"))
          .string();
  if (!fs::exists(path)) random_table(count).save(path);
  return path;
}

void BM_RawRead(benchmark::State& state) {
  const std::string path = table_file(state.range(0));
  for (auto _ : state) {
    rootopt::h5::Id file = rootopt::h5::open_file(path);
    rootopt::h5::Id shapes = rootopt::h5::open_dataset(file, "shapes", path);
    rootopt::h5::Id coefficients = rootopt::h5::open_dataset(file, "coefficients", path);
    benchmark::DoNotOptimize(rootopt::h5::read_int64s(shapes, path));
    benchmark::DoNotOptimize(rootopt::h5::read_doubles(coefficients, path));
  }
  fs::remove(path);
}

void BM_Load(benchmark::State& state) {
  const std::string path = table_file(state.range(0));
  for (auto _ : state) benchmark::DoNotOptimize(rootopt::CoefficientTable::load(path));
  fs::remove(path);
}

// The bundled version-1 table (3 shapes), through the legacy reader, and the same table saved as
// version 2, through libhdf5.
void BM_LoadBundledVersion1(benchmark::State& state) {
  const std::string path = ROOTOPT_BENCH_V1_TABLE;
  for (auto _ : state) benchmark::DoNotOptimize(rootopt::CoefficientTable::load(path));
}

void BM_LoadBundledAsVersion2(benchmark::State& state) {
  const std::string path =
      (fs::temp_directory_path() / ("rootopt_table_bench_v2_" + std::to_string(::getpid()) + ".h5"))
          .string();
  rootopt::CoefficientTable::load(ROOTOPT_BENCH_V1_TABLE).save(path);
  for (auto _ : state) benchmark::DoNotOptimize(rootopt::CoefficientTable::load(path));
  fs::remove(path);
}

void BM_Save(benchmark::State& state) {
  const auto table = random_table(state.range(0));
  const std::string path = table_file(state.range(0));
  for (auto _ : state) table.save(path);
  fs::remove(path);
}

void BM_LookupExact(benchmark::State& state) {
  const auto table = random_table(state.range(0));
  const rootopt::Shape shape = table.shapes()[table.shapes().size() / 2];
  for (auto _ : state) benchmark::DoNotOptimize(table.lookup({shape.cols, shape.rows}));
}

void BM_LookupNearest(benchmark::State& state) {
  const auto table = random_table(state.range(0));
  for (auto _ : state) benchmark::DoNotOptimize(table.lookup({1000, 3000}));
}

BENCHMARK(BM_RawRead)->Arg(16)->Arg(256)->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_Load)->Arg(16)->Arg(256)->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_LoadBundledVersion1)->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_LoadBundledAsVersion2)->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_Save)->Arg(16)->Arg(256)->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_LookupExact)->Arg(16)->Arg(256)->Unit(benchmark::kNanosecond);
BENCHMARK(BM_LookupNearest)->Arg(16)->Arg(256)->Unit(benchmark::kNanosecond);

}  // namespace

BENCHMARK_MAIN();
