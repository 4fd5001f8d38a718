#include <cuda_bf16.h>

#include <cmath>
#include <cub/device/device_radix_sort.cuh>
#include <cub/device/device_reduce.cuh>

#include "cuda_check.h"
#include "unfused_baseline.h"

namespace rootopt::bench {
namespace {

constexpr int kThreads = 256;
unsigned blocks(int64_t n) { return unsigned((n + kThreads - 1) / kThreads); }

__device__ float load(const __nv_bfloat16* p, int64_t i) { return __bfloat162float(p[i]); }
__device__ float load(const float* p, int64_t i) { return p[i]; }
__device__ void store(__nv_bfloat16* p, int64_t i, float v) { p[i] = __float2bfloat16_rn(v); }
__device__ void store(float* p, int64_t i, float v) { p[i] = v; }

#define ELEMENTWISE(name, params, body)                               \
  template <typename T>                                               \
  __global__ void name params {                                       \
    const int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; \
    if (i < n) body;                                                  \
  }

ELEMENTWISE(momentum_kernel, (const T* g, float* m, float mu, int64_t n),
            { m[i] = mu * m[i] + load(g, i); })
ELEMENTWISE(nesterov_kernel, (const T* g, const float* m, float mu, float* u, int64_t n),
            { u[i] = load(g, i) + mu * m[i]; })
ELEMENTWISE(abs_kernel, (const T* u, float* a, int64_t n), { a[i] = fabsf(load(u, i)); })
ELEMENTWISE(clamp_kernel, (T * u, const float* eps, int64_t n),
            { u[i] = fminf(fmaxf(u[i], -*eps), *eps); })
ELEMENTWISE(square_kernel, (const T* u, float* sq, int64_t n), { sq[i] = u[i] * u[i]; })
ELEMENTWISE(normalize_kernel, (const float* u, const float* sumsq, T* x, int64_t n),
            { store(x, i, u[i] / (sqrtf(*sumsq) + 1e-7f)); })
ELEMENTWISE(decay_kernel, (T * p, float decay, int64_t n), { store(p, i, load(p, i) * decay); })
ELEMENTWISE(update_kernel, (T * p, const __nv_bfloat16* x, float step, int64_t n),
            { store(p, i, load(p, i) - step * __bfloat162float(x[i])); })

__global__ void quantile_kernel(const float* sorted, int64_t n, float q, float* eps) {
  const double position = double(q) * double(n - 1);
  const auto lo = int64_t(floor(position));
  const int64_t hi = lo + 1 < n ? lo + 1 : lo;
  *eps = float(sorted[lo] + (position - double(lo)) * (sorted[hi] - sorted[lo]));
}

__device__ float hash_uniform(uint32_t i, uint32_t seed) {  // [-1, 1)
  uint32_t h = i * 0x9E3779B1u ^ seed;
  h ^= h >> 16;
  h *= 0x85EBCA6Bu;
  h ^= h >> 13;
  h *= 0xC2B2AE35u;
  h ^= h >> 16;
  return float(h) * (2.0f / 4294967296.0f) - 1.0f;
}
template <typename T>
__global__ void fill_kernel(T* data, int64_t n, float scale, uint32_t seed) {
  const int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x;
  if (i < n) store(data, i, scale * hash_uniform(uint32_t(i), seed));
}

}  // namespace

void fill_random_bf16(void* data, int64_t n, float scale, uint32_t seed, cudaStream_t stream) {
  fill_kernel<<<blocks(n), kThreads, 0, stream>>>(static_cast<__nv_bfloat16*>(data), n, scale,
                                                  seed);
  ROOTOPT_CUDA_CHECK_LAUNCH("fill_kernel");
}
void fill_random_fp32(float* data, int64_t n, float scale, uint32_t seed, cudaStream_t stream) {
  fill_kernel<<<blocks(n), kThreads, 0, stream>>>(data, n, scale, seed);
  ROOTOPT_CUDA_CHECK_LAUNCH("fill_kernel");
}

UnfusedBaseline::UnfusedBaseline(const BenchShape& shape, DeviceParams params, GemmFloor& gemms)
    : shape_(shape),
      params_(params),
      gemms_(gemms),
      u_(sizeof(float) * shape.total(), "unfused U"),
      abs_(sizeof(float) * shape.elements(), "unfused |U|"),
      sorted_(sizeof(float) * shape.elements(), "unfused sorted"),
      sum_(sizeof(float), "unfused sum"),
      eps_(sizeof(float), "unfused eps") {
  const int n = int(shape.elements());
  size_t sort_bytes = 0, sum_bytes = 0;
  ROOTOPT_CUDA_CHECK(
      cub::DeviceRadixSort::SortKeys(nullptr, sort_bytes, abs_.as<float>(), sorted_.as<float>(), n),
      "sort size");
  ROOTOPT_CUDA_CHECK(
      cub::DeviceReduce::Sum(nullptr, sum_bytes, abs_.as<float>(), sum_.as<float>(), n),
      "sum size");
  sort_temp_ = cuda::DeviceBuffer(sort_bytes, "unfused sort scratch");
  sum_temp_ = cuda::DeviceBuffer(sum_bytes, "unfused sum scratch");
}

void UnfusedBaseline::run(const Schedule& schedule, float quantile, cudaStream_t stream) {
  using B = __nv_bfloat16;
  const int64_t n = shape_.elements();
  const float mu = 0.95f, decay = 1 - 1e-3f * 0.1f;
  const float step = float(1e-3 * 0.2 * std::sqrt(double(shape_.large())));
  const B* grad = static_cast<const B*>(params_.grad);
  B* x = static_cast<B*>(gemms_.x());
  for (int64_t m = 0; m < shape_.batch; ++m) {
    const int64_t off = m * n;
    float* u = u_.as<float>() + off;
    momentum_kernel<<<blocks(n), kThreads, 0, stream>>>(grad + off, params_.momentum + off, mu, n);
    nesterov_kernel<<<blocks(n), kThreads, 0, stream>>>(grad + off, params_.momentum + off, mu, u,
                                                        n);
    abs_kernel<<<blocks(n), kThreads, 0, stream>>>(u, abs_.as<float>(), n);
    size_t sort_bytes = sort_temp_.bytes();
    ROOTOPT_CUDA_CHECK(
        cub::DeviceRadixSort::SortKeys(sort_temp_.get(), sort_bytes, abs_.as<float>(),
                                       sorted_.as<float>(), int(n), 0, 32, stream),
        "unfused sort");
    quantile_kernel<<<1, 1, 0, stream>>>(sorted_.as<float>(), n, quantile, eps_.as<float>());
    clamp_kernel<<<blocks(n), kThreads, 0, stream>>>(u, eps_.as<float>(), n);
    square_kernel<<<blocks(n), kThreads, 0, stream>>>(static_cast<const float*>(u),
                                                      abs_.as<float>(), n);
    size_t sum_bytes = sum_temp_.bytes();
    ROOTOPT_CUDA_CHECK(cub::DeviceReduce::Sum(sum_temp_.get(), sum_bytes, abs_.as<float>(),
                                              sum_.as<float>(), int(n), stream),
                       "unfused sum");
    normalize_kernel<<<blocks(n), kThreads, 0, stream>>>(static_cast<const float*>(u),
                                                         sum_.as<float>(), x + off, n);
  }
  ROOTOPT_CUDA_CHECK_LAUNCH("unfused elementwise kernels");
  const auto* x_final = static_cast<const B*>(gemms_.run(schedule, stream));
  B* param = static_cast<B*>(params_.param);
  decay_kernel<<<blocks(shape_.total()), kThreads, 0, stream>>>(param, decay, shape_.total());
  update_kernel<<<blocks(shape_.total()), kThreads, 0, stream>>>(param, x_final, step,
                                                                 shape_.total());
  ROOTOPT_CUDA_CHECK_LAUNCH("unfused update kernels");
}

}  // namespace rootopt::bench
