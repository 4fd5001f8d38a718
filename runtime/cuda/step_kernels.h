// Internal: host launchers of the CUDA backend's fused elementwise kernels (step_kernels.cu,
// radix_select.cu). Each launcher enqueues on `stream`, checks cudaGetLastError() and never
// synchronises. Buffers are the group's workspace (see cuda_backend.cpp for the layout):
//   u        fp32, count * elements   the Nesterov direction U of every matrix
//   hist     uint32, count * 2 * kRadixBins   radix-select histograms
//   partial  double, count * kMaxBlocksPerMatrix   per-block sums of squares
//   flags    int32, one per registered parameter   1 = gradient, momentum, direction or update
//                                                   held NaN/Inf: skip
// The CPU reference of each kernel is named in its comment in the .cu file.
#pragma once

#include <cuda_runtime.h>

#include <cstdint>

#include "group_view.h"

namespace rootopt::cuda {

constexpr int kRadixBins = 2048;  // 11-bit digits: |U| in 3 passes of 11 + 10 + 10 bits
constexpr int kRadixPasses = 3;
// Blocks per matrix at most: about one full wave of 256-thread blocks on an H100 (132 SMs x 8)
// for a single large matrix; per-block partial sums are kept in this many slots.
constexpr int64_t kMaxBlocksPerMatrix = 1024;

struct MomentumArgs {
  float momentum = 0.95f;
  bool nesterov = true;
};

struct UpdateArgs {
  MomentumArgs momentum;
  float decay = 1;  // 1 - lr * weight_decay
  float step = 0;   // lr * scale(m, n)
};

// Step 1 + statistics, one pass: M' = mu M + g; U = g + mu M' (Nesterov) or M'; writes U, sets
// flags[param] when U is non-finite and, when `histogram`, counts the first radix digit of |U|.
// Does NOT write M: the momentum is updated in launch_final_update, only for finite gradients.
void launch_momentum_stats(const GroupView& group, const MomentumArgs& args, float* u,
                           uint32_t* hist, bool histogram, int32_t* flags, cudaStream_t stream);

// Step 2, the quantile of |U| per matrix by radix selection (no sort): after the fused first
// histogram, passes 1 and 2 histogram the next digit among elements matching the prefix, and a
// one-block-per-matrix kernel picks the bucket holding each wanted rank. Ends with state.eps.
void launch_radix_select(const GroupView& group, const float* u, uint32_t* hist,
                         const QuantilePosition& position, ThresholdState* state,
                         cudaStream_t stream);
// Fixed threshold or none (eps = +inf): sets state.eps of every matrix.
void launch_set_threshold(int64_t count, float eps, ThresholdState* state, cudaStream_t stream);

// Steps 2-3: B = clamp(U, -eps, eps); X0 = B / (||B||_F + 1e-7), written in the storage of the
// recipe's first Newton-Schulz step (bf16 or fp32) into x0 (count * elements).
void launch_clamp_normalize(const GroupView& group, const float* u, const ThresholdState* state,
                            double* partial, Storage storage, void* x0, cudaStream_t stream);

// The update's share of the non-finite check (issue 12): sets flags[param] when a new weight
// theta * decay - step * X_K, as the parameter's dtype stores it, is NaN/Inf anywhere in one of
// the parameter's matrices (X_K in `storage`). Writes nothing else. Runs after Newton-Schulz and
// before launch_final_update, which then skips the parameter whole.
void launch_check_update(const GroupView& group, const UpdateArgs& args, const void* x,
                         Storage storage, int32_t* flags, cudaStream_t stream);

// Step 5 (and the momentum write of step 1): for matrices whose parameter is not flagged,
// M = mu M + g; theta = theta * decay - step * X_K (X_K in `storage`, parameter dtype as
// registered). Flagged parameters are left untouched; the flag is read on the device.
void launch_final_update(const GroupView& group, const UpdateArgs& args, const void* x,
                         Storage storage, int32_t* flags, cudaStream_t stream);

}  // namespace rootopt::cuda
