// Internal: the plain structs the CUDA backend's host code hands to its kernels (no CUDA types, so
// both .cpp and .cu files include this). One "group" is every registered matrix of the same
// (rows, cols, dtype, recipe); its matrices share one contiguous Newton-Schulz workspace so that
// the GEMMs run strided-batched.
#pragma once

#include <cstdint>

#include "rootopt/optimizer.h"
#include "rootopt/precision.h"

namespace rootopt::cuda {

// How a Newton-Schulz step stores its matrices (docs/recipes.md): bf16 for bf16 steps, fp32 for
// tf32 and fp32 steps (tf32 is a GEMM mode, not a storage type). Every workspace buffer is
// fp32-sized, so a buffer can hold either.
enum class Storage { bf16, fp32 };
inline Storage storage_of(Precision step) {
  return step == Precision::bf16 ? Storage::bf16 : Storage::fp32;
}
inline int64_t storage_bytes(Storage storage) { return storage == Storage::bf16 ? 2 : 4; }

// One matrix of a group: where its parameter, gradient and momentum live (device pointers), and
// which parameter it belongs to (a parameter with batch > 1 owns several consecutive matrices).
struct MatrixSlot {
  const void* grad = nullptr;
  void* param = nullptr;
  float* momentum = nullptr;
  int64_t param_id = 0;  // index into the per-parameter non-finite flags
};

// What every elementwise kernel needs to find its data.
struct GroupView {
  const MatrixSlot* slots = nullptr;  // device array, `count` entries
  int64_t count = 0;                  // matrices in the group
  int64_t elements = 0;               // rows * cols of each matrix (< 2^32: histogram counters)
  DType dtype = DType::fp32;          // of parameter and gradient
  // elements % 4 == 0 and every slot pointer aligned for 4-element vector loads: the kernels
  // then move 16 bytes (fp32) or 8 bytes (bf16) per access (cuda_backend.cpp decides).
  bool vectorized = false;
};

// Per-matrix soft-threshold state on the device (radix selection of two order statistics).
struct ThresholdState {
  uint32_t prefix[2] = {0, 0};  // high bits of |U| found so far, for ranks k_lo and k_hi
  uint32_t rank[2] = {0, 0};    // rank still to find inside the current prefix
  float eps = 0;                // the threshold once selection is complete
};

// torch.quantile's linear interpolation, as runtime/cpu/soft_threshold.cpp evaluates it: with
// p = q (n - 1), the order statistics k_lo = floor(p) and k_hi = k_lo + 1 (k_lo when p is whole),
// and quantile = float(v[k_lo] + frac (v[k_hi] - v[k_lo])) in fp64, frac = p - k_lo.
struct QuantilePosition {
  uint32_t k_lo = 0, k_hi = 0;
  double frac = 0;
};

}  // namespace rootopt::cuda
