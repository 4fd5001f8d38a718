// Step 2 of the ROOT step on the CPU: the soft threshold that makes the orthogonalisation robust
// to outliers (ROOT arXiv 2511.20626, Sec. "soft-thresholding"): eps from the q-quantile of |U|,
// a fixed value, or off; B = clamp(U, -eps, eps) (the outliers U - B are dropped).
#pragma once

#include <cstdint>

#include "rootopt/optimizer.h"

namespace rootopt::detail::cpu {

// The q-quantile of |values[0..count)| as torch.quantile(..., interpolation="linear") defines it:
// with v the ascending |values| and p = q (count - 1), lo = floor(p), hi = ceil(p):
//   quantile = v[lo] + (p - lo) (v[hi] - v[lo]),
// evaluated in fp64 from the two fp32 order statistics and rounded to fp32. Found with
// std::nth_element (expected O(count)), not a full sort. `scratch` holds >= count floats.
float abs_quantile(const float* values, int64_t count, double q, float* scratch);

// eps for the hyperparameters' threshold mode (+infinity when off).
float threshold_epsilon(const float* values, int64_t count, const Hyperparams& hyperparams,
                        float* scratch);

// values <- clamp(values, -eps, eps) in place.
void clamp_in_place(float* values, int64_t count, float eps);

}  // namespace rootopt::detail::cpu
