// Step 5 of the ROOT step on the CPU: theta <- theta * decay - step * X_K, in fp32 (a bf16
// parameter is widened to fp32 and the result rounded to nearest even on store).
#pragma once

#include "matrix_view.h"
#include "update_coefficients.h"

namespace rootopt::detail::cpu {

// theta * decay - step * x in fp32 (stored as theta's dtype by the caller).
inline float updated_weight(float theta, float x, UpdateCoefficients coefficients) {
  return theta * coefficients.decay - coefficients.step * x;
}

// Whether every new weight of this matrix, as its dtype stores it (a bf16 weight may round to
// Inf), would be finite; reads only. A non-finite X_K always gives a non-finite weight (NaN * 0
// and Inf * 0 are NaN), so this covers X_K too.
bool update_is_finite(const MatrixView& view, const void* param, DType dtype, const float* x,
                      UpdateCoefficients coefficients);

// `x` is the Newton-Schulz result of this matrix in its orientation (view.ns_index).
void apply_update(const MatrixView& view, void* param, DType dtype, const float* x,
                  UpdateCoefficients coefficients);

}  // namespace rootopt::detail::cpu
