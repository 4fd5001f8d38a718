// Step 5 of the ROOT step, shared by every backend: theta <- theta * decay - step * X_K with
//   decay = 1 - lr wd                 (decoupled weight decay, AdamW / ROOT Algorithm 1)
//   step  = lr scale(rows, cols)      (rows x cols: the parameter's own orientation)
// Both are evaluated in fp64 and rounded to fp32 once, so every backend applies the same numbers.
#pragma once

#include <cstdint>

#include "rootopt/optimizer.h"

namespace rootopt::detail {

// rms: 0.2 sqrt(max(rows, cols)) (Moonlight arXiv 2502.16982, used by the ROOT code);
// spectral: sqrt(max(1, rows / cols)) (torch.optim.Muon adjust_lr_fn "original"); none: 1.
double update_scale(ScaleMode mode, int64_t rows, int64_t cols);

struct UpdateCoefficients {
  float decay = 1;
  float step = 0;
};
UpdateCoefficients update_coefficients(const Hyperparams& hyperparams, int64_t rows, int64_t cols);

}  // namespace rootopt::detail
