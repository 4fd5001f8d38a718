// Step 1 of the ROOT step on the CPU: M = mu M + g; U = g + mu M (Nesterov) or U = M, in fp32
// (ROOT arXiv 2511.20626, Algorithm 1; the Nesterov form is the one of Muon and the ROOT code).
#pragma once

#include <cstdint>

#include "matrix_view.h"
#include "rootopt/optimizer.h"

namespace rootopt::detail::cpu {

struct MomentumStep {
  float momentum;   // new M
  float direction;  // U
};

inline MomentumStep momentum_step(float m, float g, float mu, bool nesterov) {
  const float next = mu * m + g;
  return {next, nesterov ? g + mu * next : next};
}

// True when every new momentum and direction value of the parameter (all `count` elements) is
// finite. Reads only: a parameter that fails is skipped with its state untouched.
bool momentum_step_is_finite(const void* grad, DType dtype, const float* momentum, int64_t count,
                             float mu, bool nesterov);

// The direction U of one matrix, in the Newton-Schulz orientation (ns_rows x ns_cols, row-major),
// into `direction`. Reads only: the momentum is written by write_momentum_step once the whole
// parameter's update is known to be finite.
void momentum_direction(const MatrixView& view, const void* grad, DType dtype,
                        const float* momentum, float mu, bool nesterov, float* direction);

// Writes the new momentum M' of one matrix in place (parameter layout).
void write_momentum_step(const MatrixView& view, const void* grad, DType dtype, float* momentum,
                         float mu);

}  // namespace rootopt::detail::cpu
