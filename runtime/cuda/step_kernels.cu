// Fused elementwise kernels of the ROOT step on the GPU (ROOT paper arXiv 2511.20626, Alg. 1).
// Three layers per kernel: a device math function (the arithmetic, written with explicit _rn
// intrinsics so no FMA contraction changes a rounding: it matches the CPU backend bit for bit),
// a thin __global__ that walks the elements, and a host launcher that checks the launch.
// CPU reference: runtime/cpu/cpu_backend.cpp computes the same five steps with Eigen (and the
// non-finite checks of docs/runtime.md step 0, extended to the update by issue 12).
#include "kernel_common.cuh"

namespace rootopt::cuda {
namespace {

// ---- device math (CPU reference: momentum_step in runtime/cpu/momentum.h) ----
__device__ __forceinline__ float momentum_next(float m, float g, float mu) {
  return __fadd_rn(__fmul_rn(mu, m), g);  // M' = mu M + g
}
__device__ __forceinline__ float direction(float g, float m_next, const MomentumArgs& a) {
  return a.nesterov ? __fadd_rn(g, __fmul_rn(a.momentum, m_next)) : m_next;  // U
}
// CPU reference: clamp_in_place (runtime/cpu/soft_threshold.cpp).
__device__ __forceinline__ float clamp_abs(float u, float eps) {
  return fminf(fmaxf(u, -eps), eps);
}
// CPU reference: apply_update (runtime/cpu/update.cpp), with decay and step from
// runtime/update_coefficients.h shared by both backends.
__device__ __forceinline__ float updated_param(float theta, float x, const UpdateArgs& a) {
  return __fsub_rn(__fmul_rn(theta, a.decay), __fmul_rn(a.step, x));
}

// ---- kernels ----
// One pass over g and M per matrix (grid.y): U, the non-finite flag and the first radix digit.
template <typename T>
__global__ void momentum_stats_kernel(GroupView group, MomentumArgs args, float* u, uint32_t* hist,
                                      bool histogram, int32_t* flags) {
  __shared__ uint32_t local[kRadixBins];
  if (histogram)
    for (int b = threadIdx.x; b < kRadixBins; b += blockDim.x) local[b] = 0;
  __syncthreads();
  const MatrixSlot slot = group.slots[blockIdx.y];
  const T* grad = static_cast<const T*>(slot.grad);
  const float* momentum = slot.momentum;
  float* u_matrix = u + int64_t(blockIdx.y) * group.elements;
  bool non_finite = false;
  const auto visit = [&](float g, float m) {
    const float m_next = momentum_next(m, g, args.momentum);
    const float value = direction(g, m_next, args);
    non_finite |= !isfinite(m_next) || !isfinite(value);  // as momentum_step_is_finite on the CPU
    if (histogram) atomicAdd(local + radix_digit(abs_bits(value), 0), 1u);
    return value;
  };
  for_each_element(
      group, [&](int64_t i) { u_matrix[i] = visit(to_float(grad[i]), momentum[i]); },
      [&](int64_t q) { store4(u_matrix, q, map4(visit, load4(grad, q), load4(momentum, q))); });
  if (__syncthreads_or(non_finite) && threadIdx.x == 0) flags[slot.param_id] = 1;
  if (histogram) flush_histogram(local, hist + int64_t(blockIdx.y) * kRadixPasses * 2 * kRadixBins);
}

// Per-block sum of squares of clamp(U): partial[matrix * kMaxBlocksPerMatrix + block].
__global__ void clamp_square_sum_kernel(GroupView group, const float* u,
                                        const ThresholdState* state, double* partial) {
  __shared__ typename BlockSum::TempStorage scratch;
  const float eps = state[blockIdx.y].eps;
  const float* u_matrix = u + int64_t(blockIdx.y) * group.elements;
  double sum = 0;  // fp64 squares and sums, as normalize_frobenius on the CPU
  const auto visit = [&](float u) {
    const double b = clamp_abs(u, eps);
    sum += b * b;
    return 0.0f;
  };
  for_each_element(
      group, [&](int64_t i) { visit(u_matrix[i]); },
      [&](int64_t q) { map4(visit, load4(u_matrix, q)); });
  const double block_sum = BlockSum(scratch).Sum(sum);
  if (threadIdx.x == 0) partial[blockIdx.y * kMaxBlocksPerMatrix + blockIdx.x] = block_sum;
}

// X0 = clamp(U) / (||clamp(U)||_F + 1e-7) in the Newton-Schulz precision (CPU reference:
// normalize_frobenius in runtime/cpu/newton_schulz.cpp, then bf16 rounding of X0). Every block
// re-adds the partial sums in the same order, so the norm is deterministic (no float atomics).
template <typename X>
__global__ void normalize_kernel(GroupView group, const float* u, const ThresholdState* state,
                                 const double* partial, X* x0) {
  __shared__ typename BlockSum::TempStorage scratch;
  __shared__ float denominator;
  const double total = sum_partials(partial + blockIdx.y * kMaxBlocksPerMatrix, gridDim.x, scratch);
  if (threadIdx.x == 0) denominator = __fadd_rn(static_cast<float>(sqrt(total)), 1e-7f);
  __syncthreads();
  const float eps = state[blockIdx.y].eps, d = denominator;
  const float* u_matrix = u + int64_t(blockIdx.y) * group.elements;
  X* x_matrix = x0 + int64_t(blockIdx.y) * group.elements;
  const auto visit = [&](float u) { return __fdiv_rn(clamp_abs(u, eps), d); };
  for_each_element(
      group, [&](int64_t i) { x_matrix[i] = from_float<X>(visit(u_matrix[i])); },
      [&](int64_t q) { store4(x_matrix, q, map4(visit, load4(u_matrix, q))); });
}

// Flags the parameter when a new weight theta * decay - step * X_K, as the parameter stores it,
// is not finite anywhere (CPU reference: the CPU backend's update check, runtime/cpu/update.h). The
// flag must be complete before final_update_kernel reads it, hence a pass of its own: momentum and
// weights are written only after every matrix of the parameter is known finite.
template <typename T, typename X>
__global__ void check_update_kernel(GroupView group, UpdateArgs args, const X* x, int32_t* flags) {
  const MatrixSlot slot = group.slots[blockIdx.y];
  const T* param = static_cast<const T*>(slot.param);
  const X* x_matrix = x + int64_t(blockIdx.y) * group.elements;
  bool non_finite = false;
  const auto visit = [&](float theta, float x) {
    non_finite |= !isfinite(to_float(from_float<T>(updated_param(theta, x, args))));
    return 0.0f;
  };
  for_each_element(
      group, [&](int64_t i) { visit(to_float(param[i]), to_float(x_matrix[i])); },
      [&](int64_t q) { map4(visit, load4(param, q), load4(x_matrix, q)); });
  if (__syncthreads_or(non_finite) && threadIdx.x == 0) flags[slot.param_id] = 1;
}

// Momentum and parameter write-back, skipped as a whole for a flagged parameter.
template <typename T, typename X>
__global__ void final_update_kernel(GroupView group, UpdateArgs args, const X* x, int32_t* flags) {
  const MatrixSlot slot = group.slots[blockIdx.y];
  if (flags[slot.param_id]) return;
  const T* grad = static_cast<const T*>(slot.grad);
  T* param = static_cast<T*>(slot.param);
  float* momentum = slot.momentum;
  const X* x_matrix = x + int64_t(blockIdx.y) * group.elements;
  const auto next = [&](float m, float g) { return momentum_next(m, g, args.momentum.momentum); };
  const auto update = [&](float theta, float x) { return updated_param(theta, x, args); };
  for_each_element(
      group,
      [&](int64_t i) {
        momentum[i] = next(momentum[i], to_float(grad[i]));
        param[i] = from_float<T>(update(to_float(param[i]), to_float(x_matrix[i])));
      },
      [&](int64_t q) {
        store4(momentum, q, map4(next, load4(momentum, q), load4(grad, q)));
        store4(param, q, map4(update, load4(param, q), load4(x_matrix, q)));
      });
}

// The two passes over the update: check (flags) and write (momentum and weights).
enum class UpdatePass { check, write };

template <typename T, typename X>
void launch_update_pass(UpdatePass pass, const GroupView& group, const UpdateArgs& args,
                        const void* x, int32_t* flags, cudaStream_t stream) {
  const dim3 grid = group_grid(group);
  const X* typed = static_cast<const X*>(x);
  if (pass == UpdatePass::check)
    check_update_kernel<T, X><<<grid, kThreads, 0, stream>>>(group, args, typed, flags);
  else
    final_update_kernel<T, X><<<grid, kThreads, 0, stream>>>(group, args, typed, flags);
}

// Parameter dtype x X_K storage.
void launch_update_pass(UpdatePass pass, const GroupView& group, const UpdateArgs& args,
                        const void* x, Storage storage, int32_t* flags, cudaStream_t stream) {
  using B = __nv_bfloat16;
  const bool bf16_param = group.dtype == DType::bf16, bf16_x = storage == Storage::bf16;
  if (bf16_param && bf16_x)
    launch_update_pass<B, B>(pass, group, args, x, flags, stream);
  else if (bf16_param)
    launch_update_pass<B, float>(pass, group, args, x, flags, stream);
  else if (bf16_x)
    launch_update_pass<float, B>(pass, group, args, x, flags, stream);
  else
    launch_update_pass<float, float>(pass, group, args, x, flags, stream);
  ROOTOPT_CUDA_CHECK_LAUNCH(
      pass == UpdatePass::check ? "check_update_kernel" : "final_update_kernel", " on ",
      group.count, " matrices of ", group.elements, " elements");
}

}  // namespace

void launch_momentum_stats(const GroupView& group, const MomentumArgs& args, float* u,
                           uint32_t* hist, bool histogram, int32_t* flags, cudaStream_t stream) {
  const dim3 grid = group_grid(group);
  if (group.dtype == DType::bf16)
    momentum_stats_kernel<__nv_bfloat16>
        <<<grid, kThreads, 0, stream>>>(group, args, u, hist, histogram, flags);
  else
    momentum_stats_kernel<float>
        <<<grid, kThreads, 0, stream>>>(group, args, u, hist, histogram, flags);
  ROOTOPT_CUDA_CHECK_LAUNCH("momentum_stats_kernel on ", group.count, " matrices of ",
                            group.elements, " elements");
}

void launch_clamp_normalize(const GroupView& group, const float* u, const ThresholdState* state,
                            double* partial, Storage storage, void* x0, cudaStream_t stream) {
  const dim3 grid = group_grid(group);
  clamp_square_sum_kernel<<<grid, kThreads, 0, stream>>>(group, u, state, partial);
  ROOTOPT_CUDA_CHECK_LAUNCH("clamp_square_sum_kernel on ", group.count, " matrices");
  if (storage == Storage::bf16)
    normalize_kernel<<<grid, kThreads, 0, stream>>>(group, u, state, partial,
                                                    static_cast<__nv_bfloat16*>(x0));
  else
    normalize_kernel<<<grid, kThreads, 0, stream>>>(group, u, state, partial,
                                                    static_cast<float*>(x0));
  ROOTOPT_CUDA_CHECK_LAUNCH("normalize_kernel on ", group.count, " matrices");
}

void launch_check_update(const GroupView& group, const UpdateArgs& args, const void* x,
                         Storage storage, int32_t* flags, cudaStream_t stream) {
  launch_update_pass(UpdatePass::check, group, args, x, storage, flags, stream);
}

void launch_final_update(const GroupView& group, const UpdateArgs& args, const void* x,
                         Storage storage, int32_t* flags, cudaStream_t stream) {
  launch_update_pass(UpdatePass::write, group, args, x, storage, flags, stream);
}

}  // namespace rootopt::cuda
