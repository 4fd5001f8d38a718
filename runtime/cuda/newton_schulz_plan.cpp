// cuBLASLt plans of the Newton-Schulz GEMMs (see newton_schulz_plan.h for the math).
#include "newton_schulz_plan.h"

#include <string>

#include "check.h"
#include "cuda_check.h"
#include "step_kernels.h"

namespace rootopt::cuda {

LtHandle::LtHandle() {
  ROOTOPT_CUBLAS_CHECK(cublasLtCreate(handle_.out()), "creating the cuBLASLt handle");
}

namespace {

using MatmulDesc = CudaHandle<cublasLtMatmulDesc_t, cublasLtMatmulDescDestroy>;
using MatrixLayout = CudaHandle<cublasLtMatrixLayout_t, cublasLtMatrixLayoutDestroy>;
using Preference = CudaHandle<cublasLtMatmulPreference_t, cublasLtMatmulPreferenceDestroy>;

template <typename Value>
void set_attribute(cublasLtMatmulDesc_t desc, cublasLtMatmulDescAttributes_t attribute,
                   const Value& value, const std::string& what) {
  ROOTOPT_CUBLAS_CHECK(cublasLtMatmulDescSetAttribute(desc, attribute, &value, sizeof value), what);
}
template <typename Value>
void set_attribute(cublasLtMatrixLayout_t layout, cublasLtMatrixLayoutAttribute_t attribute,
                   const Value& value, const std::string& what) {
  ROOTOPT_CUBLAS_CHECK(cublasLtMatrixLayoutSetAttribute(layout, attribute, &value, sizeof value),
                       what);
}

// A column-major rows x cols matrix with leading dimension ld, `batch` of them `stride` elements
// apart (a block of a larger matrix has ld and stride of the whole one).
struct Dims {
  int64_t rows, cols, ld, stride;
};
Dims whole(int64_t rows, int64_t cols) { return {rows, cols, rows, rows * cols}; }

// The layout of `batch` matrices of the given Dims.
void make_layout(MatrixLayout& layout, cudaDataType_t type, Dims dims, int64_t batch,
                 const std::string& what) {
  ROOTOPT_CUBLAS_CHECK(
      cublasLtMatrixLayoutCreate(layout.out(), type, static_cast<uint64_t>(dims.rows),
                                 static_cast<uint64_t>(dims.cols), dims.ld),
      what);
  set_attribute(layout.get(), CUBLASLT_MATRIX_LAYOUT_BATCH_COUNT, static_cast<int32_t>(batch),
                what);
  set_attribute(layout.get(), CUBLASLT_MATRIX_LAYOUT_STRIDED_BATCH_OFFSET, dims.stride, what);
}

}  // namespace

// D = alpha op(A) op(B) + beta C with C and D sharing one layout; the algorithm is chosen once by
// cuBLASLt's heuristic for the exact shapes, batch and workspace.
struct NewtonSchulzPlan::Gemm {
  MatmulDesc desc;
  MatrixLayout a, b, cd;
  cublasLtMatmulAlgo_t algo{};
  std::string what;

  Gemm(cublasLtHandle_t lt, cublasOperation_t op_a, Dims a_dims, cublasOperation_t op_b,
       Dims b_dims, Dims cd_dims, int64_t batch, cudaDataType_t type, size_t workspace_bytes,
       std::string what_)
      : what(std::move(what_)) {
    ROOTOPT_CUBLAS_CHECK(cublasLtMatmulDescCreate(desc.out(), CUBLAS_COMPUTE_32F, CUDA_R_32F),
                         what);
    set_attribute(desc.get(), CUBLASLT_MATMUL_DESC_TRANSA, op_a, what);
    set_attribute(desc.get(), CUBLASLT_MATMUL_DESC_TRANSB, op_b, what);
    make_layout(a, type, a_dims, batch, what);
    make_layout(b, type, b_dims, batch, what);
    make_layout(cd, type, cd_dims, batch, what);
    Preference pref;
    ROOTOPT_CUBLAS_CHECK(cublasLtMatmulPreferenceCreate(pref.out()), what);
    ROOTOPT_CUBLAS_CHECK(
        cublasLtMatmulPreferenceSetAttribute(pref.get(), CUBLASLT_MATMUL_PREF_MAX_WORKSPACE_BYTES,
                                             &workspace_bytes, sizeof workspace_bytes),
        what);
    cublasLtMatmulHeuristicResult_t result{};
    int found = 0;
    ROOTOPT_CUBLAS_CHECK(cublasLtMatmulAlgoGetHeuristic(lt, desc.get(), a.get(), b.get(), cd.get(),
                                                        cd.get(), pref.get(), 1, &result, &found),
                         what);
    ROOTOPT_CHECK(found > 0, "cuBLASLt has no algorithm for the ", what);
    algo = result.algo;
  }

  void operator()(cublasLtHandle_t lt, float alpha, const void* a_ptr, const void* b_ptr,
                  float beta, const void* c_ptr, void* d_ptr, const PlanBuffers& buffers,
                  cudaStream_t stream) const {
    ROOTOPT_CUBLAS_CHECK(cublasLtMatmul(lt, desc.get(), &alpha, a_ptr, a.get(), b_ptr, b.get(),
                                        &beta, c_ptr, cd.get(), d_ptr, cd.get(), &algo,
                                        buffers.workspace, buffers.workspace_bytes, stream),
                         what);
  }
};

NewtonSchulzPlan::NewtonSchulzPlan(const LtHandle& lt, PlanShape shape, Precision precision,
                                   size_t workspace_bytes)
    : lt_(lt.get()), shape_(shape), precision_(precision) {
  ROOTOPT_CHECK(precision == Precision::bf16 || precision == Precision::fp32,
                "the CUDA backend runs Newton-Schulz in bf16 or fp32, not ", to_string(precision));
  const cudaDataType_t type = precision == Precision::bf16 ? CUDA_R_16BF : CUDA_R_32F;
  // Column-major view D of the row-major m x n matrices: n x m.
  const int64_t small = shape.small();
  const Dims d = whole(shape.cols, shape.rows), square = whole(small, small);
  const bool wide = shape.rows <= shape.cols;  // then A = D^T D, else A = D D^T
  const std::string where = detail::concat(" of ", shape.batch, " x ", shape.rows, "x", shape.cols,
                                           " in ", to_string(precision));
  const auto N = CUBLAS_OP_N, T = CUBLAS_OP_T;
  const auto gemm = [&](cublasOperation_t op_a, Dims a, cublasOperation_t op_b, Dims b, Dims cd,
                        const std::string& what) {
    return std::make_unique<Gemm>(lt_, op_a, a, op_b, b, cd, shape.batch, type, workspace_bytes,
                                  what + where);
  };
  split_ = gram_split(small);
  if (split_ == 0) {
    gram_.push_back(gemm(wide ? T : N, d, wide ? N : T, d, square, "Gram GEMM A = X X^T"));
  } else {
    // A is symmetric: compute the blocks A11, A21, A22 of the 2 x 2 split (3/4 of the flops) and
    // mirror A21 into A12. The split runs along D's small dimension: its first s1 columns (wide)
    // or rows (tall) form X1, the rest X2.
    const int64_t s1 = split_, s2 = small - split_, ld = shape.cols, stride = ld * shape.rows;
    const Dims x1 = wide ? Dims{ld, s1, ld, stride} : Dims{s1, shape.rows, ld, stride};
    const Dims x2 = wide ? Dims{ld, s2, ld, stride} : Dims{s2, shape.rows, ld, stride};
    const auto block = [&](int64_t rows, int64_t cols) {
      return Dims{rows, cols, small, small * small};
    };
    const auto op_a = wide ? T : N, op_b = wide ? N : T;
    gram_.push_back(gemm(op_a, x1, op_b, x1, block(s1, s1), "Gram block A11 = X1 X1^T"));
    gram_.push_back(gemm(op_a, x2, op_b, x1, block(s2, s1), "Gram block A21 = X2 X1^T"));
    gram_.push_back(gemm(op_a, x2, op_b, x2, block(s2, s2), "Gram block A22 = X2 X2^T"));
  }
  poly_ = gemm(N, square, N, square, square, "polynomial GEMM P = c A A + b A");
  update_ = gemm(N, wide ? d : square, N, wide ? square : d, d, "update GEMM X = a X + P X");
}

int64_t NewtonSchulzPlan::gram_split(int64_t small) {
  // Measured on an H100 (docs/results/gpu.md): for 1024x4096 the three smaller GEMMs and the
  // mirror cost more than the saved quarter (0.31 vs 0.24 ms), for 4096-wide A they win (2.73 vs
  // 2.83 ms, 6.53 vs 7.06 ms). The split is a multiple of 128 elements so every block pointer
  // keeps 256-byte alignment.
  return small >= 2048 ? (small / 2) / 128 * 128 : 0;
}

void NewtonSchulzPlan::gram(const void* x, const PlanBuffers& buffers, cudaStream_t stream) const {
  if (split_ == 0) {
    (*gram_[0])(lt_, 1.0f, x, x, 0.0f, buffers.gram, buffers.gram, buffers, stream);
    return;
  }
  const bool wide = shape_.rows <= shape_.cols;
  const int64_t small = shape_.small(), bytes = precision_ == Precision::bf16 ? 2 : 4;
  const char* x1 = static_cast<const char*>(x);
  const char* x2 = x1 + bytes * (wide ? shape_.cols * split_ : split_);
  char* a = static_cast<char*>(buffers.gram);
  char* a21 = a + bytes * split_;
  char* a22 = a + bytes * (split_ + split_ * small);
  (*gram_[0])(lt_, 1.0f, x1, x1, 0.0f, a, a, buffers, stream);
  (*gram_[1])(lt_, 1.0f, x2, x1, 0.0f, a21, a21, buffers, stream);
  (*gram_[2])(lt_, 1.0f, x2, x2, 0.0f, a22, a22, buffers, stream);
  launch_mirror_block(buffers.gram, {small, split_, shape_.batch}, precision_, stream);
}

NewtonSchulzPlan::~NewtonSchulzPlan() = default;

void* NewtonSchulzPlan::run(const Schedule& schedule, const PlanBuffers& buffers,
                            cudaStream_t stream) const {
  const bool wide = shape_.rows <= shape_.cols;
  void* x = buffers.x;
  void* next = buffers.x_other;
  for (const QuinticStep& step : schedule.steps()) {
    gram(x, buffers, stream);
    (*poly_)(lt_, static_cast<float>(step.c), buffers.gram, buffers.gram,
             static_cast<float>(step.b), buffers.gram, buffers.poly, buffers, stream);
    // Wide: X' = a X + X P on the column-major view (P symmetric); tall: X' = a X + P X.
    (*update_)(lt_, 1.0f, wide ? x : buffers.poly, wide ? buffers.poly : x,
               static_cast<float>(step.a), x, next, buffers, stream);
    std::swap(x, next);
  }
  return x;
}

}  // namespace rootopt::cuda
