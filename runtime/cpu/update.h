// Step 5 of the ROOT step on the CPU: theta <- theta * decay - step * X_K, in fp32 (a bf16
// parameter is widened to fp32 and the result rounded to nearest even on store).
#pragma once

#include "matrix_view.h"
#include "update_coefficients.h"

namespace rootopt::detail::cpu {

// `x` is the Newton-Schulz result of this matrix in its orientation (view.ns_index).
void apply_update(const MatrixView& view, void* param, DType dtype, const float* x,
                  UpdateCoefficients coefficients);

}  // namespace rootopt::detail::cpu
