#include "momentum.h"

#include <cmath>

#include "elements.h"

namespace rootopt::detail::cpu {

bool momentum_step_is_finite(const void* grad, DType dtype, const float* momentum, int64_t count,
                             float mu, bool nesterov) {
  for (int64_t i = 0; i < count; ++i) {
    const MomentumStep s = momentum_step(momentum[i], load_element(grad, dtype, i), mu, nesterov);
    if (!std::isfinite(s.momentum) || !std::isfinite(s.direction)) return false;
  }
  return true;
}

void momentum_direction(const MatrixView& view, const void* grad, DType dtype,
                        const float* momentum, float mu, bool nesterov, float* direction) {
  for (int64_t i = 0; i < view.rows; ++i) {
    for (int64_t j = 0; j < view.cols; ++j) {
      const int64_t k = view.offset + i * view.cols + j;
      direction[view.ns_index(i, j)] =
          momentum_step(momentum[k], load_element(grad, dtype, k), mu, nesterov).direction;
    }
  }
}

void write_momentum_step(const MatrixView& view, const void* grad, DType dtype, float* momentum,
                         float mu) {
  // M' does not depend on the Nesterov flag (only U does).
  for (int64_t k = view.offset; k < view.offset + view.size(); ++k)
    momentum[k] = momentum_step(momentum[k], load_element(grad, dtype, k), mu, false).momentum;
}

}  // namespace rootopt::detail::cpu
