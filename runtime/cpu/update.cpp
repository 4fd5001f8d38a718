#include "update.h"

#include "elements.h"

namespace rootopt::detail::cpu {

void apply_update(const MatrixView& view, void* param, DType dtype, const float* x,
                  UpdateCoefficients coefficients) {
  for (int64_t i = 0; i < view.rows; ++i) {
    for (int64_t j = 0; j < view.cols; ++j) {
      const int64_t k = view.offset + i * view.cols + j;
      const float theta = load_element(param, dtype, k);
      store_element(param, dtype, k,
                    theta * coefficients.decay - coefficients.step * x[view.ns_index(i, j)]);
    }
  }
}

}  // namespace rootopt::detail::cpu
