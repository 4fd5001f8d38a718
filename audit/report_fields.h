// Values the reports and the provenance spell the same way.
#pragma once

#include "rootopt/audit.h"

namespace rootopt::audit {

// What ScheduleAudit::cost measures.
inline constexpr const char* kCostDefinition =
    "GEMM flops relative to polar-express (5 standard steps, frobenius, bf16) at the key shape, "
    "gpu profile (bf16 1, tf32 2, fp32 15)";

// Where a matrix-level exact_rms came from (MatrixAudit::exact_from_spectrum).
inline const char* exact_source(const MatrixAudit& m) {
  return m.exact_from_spectrum ? "spectral map" : "fp64 iteration";
}

}  // namespace rootopt::audit
