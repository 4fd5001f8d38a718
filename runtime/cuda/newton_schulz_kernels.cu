// The elementwise kernels between the Newton-Schulz GEMMs of a recipe (docs/recipes.md): the
// Schatten sums of squares, the polynomial matrix H of a step (with step 1's Schatten scale folded
// in on the device, per matrix), and the precision changes of a tail (bf16 -> fp32 widening,
// TF32 rounding of GEMM operands). Three layers per kernel, as in step_kernels.cu: device math
// with explicit _rn intrinsics (no FMA contraction), a thin __global__ walking the elements, and
// a host launcher checking the launch.
// CPU reference: the CPU backend's recipe Newton-Schulz (runtime/cpu/newton_schulz.h), which
// follows the same arithmetic of docs/recipes.md: its Schatten fold (sums of squares of the stored
// A or A^2, alpha by square roots) and polynomial (c R2 + b R, then + a on the diagonal) for the
// first two kernels, its operand rounding of tf32 steps and its exact widening at a tail for the
// others; tests/gpu/newton_schulz_plan_test.cpp checks each kernel bit for bit against a host
// computation, tests/gpu/recipe_test.cpp whole steps against the CPU backend.
#include <cfloat>

#include "kernel_common.cuh"
#include "newton_schulz_kernels.h"

namespace rootopt::cuda {
namespace {

// ---- device math ----
struct Coefficients {
  float a, b, c;
};

// Schatten step 1 (docs/recipes.md, normalisation steps 4-5): alpha = s^(1/4) or s^(1/8) in fp64
// (square roots: correctly rounded, so host and device agree), then fp32; alpha = 1 when s is 0
// or not finite, or when that fp32 alpha is not a finite normal number (as the CPU backend's
// folded_step1; unreachable from fp32 Gram entries: alpha then lies within [1e-23, 1e21]);
// a' = a / alpha, b' = b / alpha^3, c' = c / alpha^5 in fp64, then fp32.
__device__ Coefficients folded_coefficients(double s, int order, double a, double b, double c) {
  float alpha = 1;
  if (s > 0) {
    double root = sqrt(sqrt(s));        // ||sigma||_4 = ||A||_F^(1/2)
    if (order == 8) root = sqrt(root);  // ||sigma||_8 = ||A^2||_F^(1/4)
    alpha = static_cast<float>(root);
    if (!isfinite(alpha) || !(alpha >= FLT_MIN)) alpha = 1;
  }
  const double scale = alpha;
  const double cube = scale * scale * scale;
  return {static_cast<float>(a / scale), static_cast<float>(b / cube),
          static_cast<float>(c / (cube * scale * scale))};
}

// One element of H = a I + b R + c R2, evaluated as the standard form's GEMM epilogue evaluates
// c (A A) + b A, then + a on the diagonal, each operation rounded to fp32 (no FMA).
__device__ __forceinline__ float polynomial_value(const Coefficients& k, float r, float r2,
                                                  bool diagonal, bool tf32) {
  float h = __fadd_rn(__fmul_rn(k.c, r2), __fmul_rn(k.b, r));
  if (diagonal) h = __fadd_rn(h, k.a);
  return tf32 ? round_to_tf32(h) : h;
}

// ---- kernels ----
template <typename T>
__global__ void square_sum_kernel(const T* a, int64_t elements, bool vectorized, double* partial) {
  __shared__ BlockSum::TempStorage scratch;
  const T* matrix = a + int64_t(blockIdx.y) * elements;
  double sum = 0;
  const auto visit = [&](float v) {
    const double d = v;
    sum += d * d;
    return 0.0f;
  };
  for_each_element(
      elements, vectorized, [&](int64_t i) { visit(to_float(matrix[i])); },
      [&](int64_t q) { map4(visit, load4(matrix, q)); });
  const double block_sum = BlockSum(scratch).Sum(sum);
  if (threadIdx.x == 0) partial[blockIdx.y * kMaxBlocksPerMatrix + blockIdx.x] = block_sum;
}

// Column-major small x small: element i is on the diagonal when i is a multiple of small + 1
// (32-bit: small^2 < 2^32, checked at registration).
template <typename T>
__global__ void polynomial_kernel(const T* r, const float* r2, T* h, SquareBatch batch,
                                  bool vectorized, PolynomialArgs args, unsigned partial_blocks) {
  __shared__ BlockSum::TempStorage scratch;
  __shared__ Coefficients coefficients;
  if (args.partial != nullptr) {  // uniform: every thread takes part in the sum
    const double s =
        sum_partials(args.partial + blockIdx.y * kMaxBlocksPerMatrix, partial_blocks, scratch);
    if (threadIdx.x == 0)
      coefficients = folded_coefficients(s, args.schatten_order, args.a, args.b, args.c);
  } else if (threadIdx.x == 0) {
    coefficients = {static_cast<float>(args.a), static_cast<float>(args.b),
                    static_cast<float>(args.c)};
  }
  __syncthreads();
  const Coefficients k = coefficients;
  const int64_t elements = batch.small * batch.small, offset = int64_t(blockIdx.y) * elements;
  const T* r_matrix = r + offset;
  const float* r2_matrix = r2 + offset;
  T* h_matrix = h + offset;
  const auto diagonal_step = static_cast<uint32_t>(batch.small + 1);
  const auto value = [&](float rv, float r2v, int64_t i) {
    const bool diagonal = static_cast<uint32_t>(i) % diagonal_step == 0;
    return polynomial_value(k, rv, r2v, diagonal, args.round_tf32);
  };
  for_each_element(
      elements, vectorized,
      [&](int64_t i) {
        h_matrix[i] = from_float<T>(value(to_float(r_matrix[i]), r2_matrix[i], i));
      },
      [&](int64_t q) {
        const float4 x = load4(r_matrix, q), y = load4(r2_matrix, q);
        const int64_t i = 4 * q;
        store4(h_matrix, q,
               make_float4(value(x.x, y.x, i), value(x.y, y.y, i + 1), value(x.z, y.z, i + 2),
                           value(x.w, y.w, i + 3)));
      });
}

__global__ void widen_kernel(const __nv_bfloat16* src, float* dst, int64_t count, bool vectorized) {
  for_each_element(
      count, vectorized, [&](int64_t i) { dst[i] = to_float(src[i]); },
      [&](int64_t q) { store4(dst, q, load4(src, q)); });
}

__global__ void round_tf32_kernel(const float* src, float* dst, int64_t count, bool vectorized) {
  const auto round = [](float x) { return round_to_tf32(x); };
  for_each_element(
      count, vectorized, [&](int64_t i) { dst[i] = round(src[i]); },
      [&](int64_t q) { store4(dst, q, map4(round, load4(src, q))); });
}

}  // namespace

void launch_square_sum(const void* a, Storage storage, const SquareBatch& batch, double* partial,
                       cudaStream_t stream) {
  const dim3 grid = batch_grid(batch.elements(), batch.count);
  const bool vectorized = batch.elements() % 4 == 0;  // workspace: every matrix quad-aligned
  if (storage == Storage::bf16)
    square_sum_kernel<<<grid, kThreads, 0, stream>>>(static_cast<const __nv_bfloat16*>(a),
                                                     batch.elements(), vectorized, partial);
  else
    square_sum_kernel<<<grid, kThreads, 0, stream>>>(static_cast<const float*>(a), batch.elements(),
                                                     vectorized, partial);
  ROOTOPT_CUDA_CHECK_LAUNCH("square_sum_kernel on ", batch.count, " matrices of ", batch.small,
                            "^2");
}

void launch_polynomial(const void* r, const float* r2, void* h, Storage storage,
                       const SquareBatch& batch, const PolynomialArgs& args, cudaStream_t stream) {
  const dim3 grid = batch_grid(batch.elements(), batch.count);
  const bool vectorized = batch.elements() % 4 == 0;
  const auto partial_blocks = grid.x;  // launch_square_sum used the same grid
  using B = __nv_bfloat16;
  if (storage == Storage::bf16)
    polynomial_kernel<<<grid, kThreads, 0, stream>>>(
        static_cast<const B*>(r), r2, static_cast<B*>(h), batch, vectorized, args, partial_blocks);
  else
    polynomial_kernel<<<grid, kThreads, 0, stream>>>(static_cast<const float*>(r), r2,
                                                     static_cast<float*>(h), batch, vectorized,
                                                     args, partial_blocks);
  ROOTOPT_CUDA_CHECK_LAUNCH("polynomial_kernel on ", batch.count, " matrices of ", batch.small,
                            "^2");
}

void launch_widen(const void* src, float* dst, int64_t count, cudaStream_t stream) {
  widen_kernel<<<batch_grid(count, 1), kThreads, 0, stream>>>(
      static_cast<const __nv_bfloat16*>(src), dst, count, count % 4 == 0);
  ROOTOPT_CUDA_CHECK_LAUNCH("widen_kernel on ", count, " elements");
}

void launch_round_tf32(const float* src, float* dst, int64_t count, cudaStream_t stream) {
  round_tf32_kernel<<<batch_grid(count, 1), kThreads, 0, stream>>>(src, dst, count, count % 4 == 0);
  ROOTOPT_CUDA_CHECK_LAUNCH("round_tf32_kernel on ", count, " elements");
}

}  // namespace rootopt::cuda
