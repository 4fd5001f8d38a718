#include "update.h"

#include <cmath>

#include "elements.h"

namespace rootopt::detail::cpu {

bool update_is_finite(const MatrixView& view, const void* param, DType dtype, const float* x,
                      UpdateCoefficients coefficients) {
  for (int64_t i = 0; i < view.rows; ++i) {
    for (int64_t j = 0; j < view.cols; ++j) {
      const int64_t k = view.offset + i * view.cols + j;
      const float theta = load_element(param, dtype, k);
      const float value = updated_weight(theta, x[view.ns_index(i, j)], coefficients);
      if (!std::isfinite(dtype == DType::fp32 ? value : round_to_bf16(value))) return false;
    }
  }
  return true;
}

void apply_update(const MatrixView& view, void* param, DType dtype, const float* x,
                  UpdateCoefficients coefficients) {
  for (int64_t i = 0; i < view.rows; ++i) {
    for (int64_t j = 0; j < view.cols; ++j) {
      const int64_t k = view.offset + i * view.cols + j;
      const float theta = load_element(param, dtype, k);
      store_element(param, dtype, k, updated_weight(theta, x[view.ns_index(i, j)], coefficients));
    }
  }
}

}  // namespace rootopt::detail::cpu
