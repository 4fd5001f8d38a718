#include "update_coefficients.h"

#include <algorithm>
#include <cmath>

#include "check.h"

namespace rootopt::detail {

double update_scale(ScaleMode mode, int64_t rows, int64_t cols) {
  switch (mode) {
    case ScaleMode::rms:
      return 0.2 * std::sqrt(static_cast<double>(std::max(rows, cols)));
    case ScaleMode::spectral:
      return std::sqrt(std::max(1.0, static_cast<double>(rows) / static_cast<double>(cols)));
    case ScaleMode::none:
      return 1.0;
  }
  ROOTOPT_ASSERT(false, "unknown scale mode ", static_cast<int>(mode));
}

UpdateCoefficients update_coefficients(const Hyperparams& hyperparams, int64_t rows, int64_t cols) {
  const double lr = hyperparams.lr;
  return {static_cast<float>(1.0 - lr * double(hyperparams.weight_decay)),
          static_cast<float>(lr * update_scale(hyperparams.scale, rows, cols))};
}

}  // namespace rootopt::detail
