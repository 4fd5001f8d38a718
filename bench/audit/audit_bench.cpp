// The audit bar (issue 5): Llama-3-8B with the defaults (64 spectra per shape, spectral level,
// plus matrix level in bf16 on 4 matrices per shape, proxy rank 256) within 60 s on the 2-core
// machine. One thread and fp32 are measured in the same run as baselines for the ratios in
// docs/results/audit.md.
#include <benchmark/benchmark.h>

#include <string>

#include "rootopt/audit.h"

namespace {

void audit_llama(benchmark::State& state, rootopt::Precision precision, int64_t threads) {
  rootopt::AuditOptions options;
  options.model_path = std::string(ROOTOPT_BENCH_DATA_DIR) + "/models/llama-3-8b.json";
  options.precision = precision;
  options.threads = threads;
  for (auto _ : state) benchmark::DoNotOptimize(rootopt::run_audit(options));
}

BENCHMARK_CAPTURE(audit_llama, bf16_defaults, rootopt::Precision::bf16, 0)
    ->Unit(benchmark::kSecond)
    ->Iterations(2)
    ->UseRealTime();
BENCHMARK_CAPTURE(audit_llama, bf16_one_thread, rootopt::Precision::bf16, 1)
    ->Unit(benchmark::kSecond)
    ->Iterations(2)
    ->UseRealTime();
BENCHMARK_CAPTURE(audit_llama, fp32, rootopt::Precision::fp32, 0)
    ->Unit(benchmark::kSecond)
    ->Iterations(2)
    ->UseRealTime();

}  // namespace

BENCHMARK_MAIN();
