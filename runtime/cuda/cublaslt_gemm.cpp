// cuBLASLt matmul plans and the symmetric products built from them (see cublaslt_gemm.h).
#include "cublaslt_gemm.h"

#include <string>
#include <type_traits>
#include <utility>

#include "check.h"
#include "cuda_check.h"
#include "newton_schulz_kernels.h"

namespace rootopt::cuda {

LtHandle::LtHandle() {
  ROOTOPT_CUBLAS_CHECK(cublasLtCreate(handle_.out()), "creating the cuBLASLt handle");
}

namespace {

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

cudaDataType_t data_type(Storage storage) {
  return storage == Storage::bf16 ? CUDA_R_16BF : CUDA_R_32F;
}

// bf16 and fp32 steps accumulate in plain fp32; tf32 steps let the tensor cores take TF32
// operands (the plans round them to TF32 first, so the hardware's conversion is exact).
cublasComputeType_t compute_type(Precision precision) {
  return precision == Precision::tf32 ? CUBLAS_COMPUTE_32F_FAST_TF32 : CUBLAS_COMPUTE_32F;
}

// The layout of `batch` matrices of the given Dims.
template <typename Layout>
void make_layout(Layout& layout, cudaDataType_t type, Dims dims, int64_t batch,
                 const std::string& what) {
  ROOTOPT_CUBLAS_CHECK(
      cublasLtMatrixLayoutCreate(layout.out(), type, static_cast<uint64_t>(dims.rows),
                                 static_cast<uint64_t>(dims.cols), dims.ld),
      what);
  set_attribute(layout.get(), CUBLASLT_MATRIX_LAYOUT_BATCH_COUNT, static_cast<int32_t>(batch),
                what);
  set_attribute(layout.get(), CUBLASLT_MATRIX_LAYOUT_STRIDED_BATCH_OFFSET, dims.stride, what);
}

// `elements` elements of `storage` past `base` (void* or const void*).
template <typename Pointer>
Pointer offset_bytes(Pointer base, int64_t elements, Storage storage) {
  using Byte =
      std::conditional_t<std::is_const_v<std::remove_pointer_t<Pointer>>, const char, char>;
  return static_cast<Byte*>(base) + elements * storage_bytes(storage);
}

}  // namespace

LtGemm::LtGemm(cublasLtHandle_t lt, cublasOperation_t op_a, Dims a, cublasOperation_t op_b, Dims b,
               Dims cd, int64_t batch, GemmTypes types, size_t workspace_bytes, std::string what)
    : lt_(lt), what_(std::move(what)) {
  ROOTOPT_CUBLAS_CHECK(
      cublasLtMatmulDescCreate(desc_.out(), compute_type(types.precision), CUDA_R_32F), what_);
  set_attribute(desc_.get(), CUBLASLT_MATMUL_DESC_TRANSA, op_a, what_);
  set_attribute(desc_.get(), CUBLASLT_MATMUL_DESC_TRANSB, op_b, what_);
  make_layout(a_, data_type(types.operands()), a, batch, what_);
  make_layout(b_, data_type(types.operands()), b, batch, what_);
  make_layout(cd_, data_type(types.result()), cd, batch, what_);
  Preference pref;
  ROOTOPT_CUBLAS_CHECK(cublasLtMatmulPreferenceCreate(pref.out()), what_);
  ROOTOPT_CUBLAS_CHECK(
      cublasLtMatmulPreferenceSetAttribute(pref.get(), CUBLASLT_MATMUL_PREF_MAX_WORKSPACE_BYTES,
                                           &workspace_bytes, sizeof workspace_bytes),
      what_);
  cublasLtMatmulHeuristicResult_t result{};
  int found = 0;
  ROOTOPT_CUBLAS_CHECK(
      cublasLtMatmulAlgoGetHeuristic(lt, desc_.get(), a_.get(), b_.get(), cd_.get(), cd_.get(),
                                     pref.get(), 1, &result, &found),
      what_);
  ROOTOPT_CHECK(found > 0, "cuBLASLt has no algorithm for the ", what_);
  algo_ = result.algo;
}

void LtGemm::operator()(float alpha, const void* a, const void* b, float beta, const void* c,
                        void* d, const LtWorkspace& workspace, cudaStream_t stream) const {
  ROOTOPT_CUBLAS_CHECK(
      cublasLtMatmul(lt_, desc_.get(), &alpha, a, a_.get(), b, b_.get(), &beta, c, cd_.get(), d,
                     cd_.get(), &algo_, workspace.data, workspace.bytes, stream),
      what_);
}

SymmetricProduct SymmetricProduct::gram(cublasLtHandle_t lt, int64_t rows, int64_t cols,
                                        int64_t batch, int64_t split, GemmTypes types,
                                        size_t workspace_bytes, const std::string& where) {
  const int64_t small = rows < cols ? rows : cols;
  SymmetricProduct product(small, batch, split, Mirror::lower, types);
  // Column-major view D of the row-major rows x cols matrices: cols x rows.
  const Dims d = whole(cols, rows), square = whole(small, small);
  const bool wide = rows <= cols;  // then A = D^T D, else A = D D^T
  const auto op_a = wide ? CUBLAS_OP_T : CUBLAS_OP_N, op_b = wide ? CUBLAS_OP_N : CUBLAS_OP_T;
  const auto gemm = [&](Dims a, Dims b, Dims out, const std::string& name) {
    return std::make_unique<LtGemm>(lt, op_a, a, op_b, b, out, batch, types, workspace_bytes,
                                    name + where);
  };
  if (split == 0) {
    product.blocks_.push_back({gemm(d, d, square, "Gram GEMM A = X X^T"), 0, 0, 0});
    return product;
  }
  // The split runs along D's small dimension: its first s1 columns (wide) or rows (tall) form X1,
  // the rest X2.
  const int64_t s1 = split, s2 = small - split, ld = cols, stride = ld * rows;
  const Dims x1 = wide ? Dims{ld, s1, ld, stride} : Dims{s1, rows, ld, stride};
  const Dims x2 = wide ? Dims{ld, s2, ld, stride} : Dims{s2, rows, ld, stride};
  const int64_t x2_offset = wide ? cols * split : split;
  const auto block = [&](int64_t r, int64_t c) { return Dims{r, c, small, small * small}; };
  product.blocks_.push_back({gemm(x1, x1, block(s1, s1), "Gram block A11 = X1 X1^T"), 0, 0, 0});
  product.blocks_.push_back(
      {gemm(x2, x1, block(s2, s1), "Gram block A21 = X2 X1^T"), x2_offset, 0, s1});
  product.blocks_.push_back({gemm(x2, x2, block(s2, s2), "Gram block A22 = X2 X2^T"), x2_offset,
                             x2_offset, s1 + s1 * small});
  return product;
}

SymmetricProduct SymmetricProduct::square(cublasLtHandle_t lt, int64_t small, int64_t batch,
                                          int64_t split, Mirror mirror, GemmTypes types,
                                          size_t workspace_bytes, const std::string& what) {
  SymmetricProduct product(small, batch, split, mirror, types);
  const int64_t stride = small * small;
  const auto gemm = [&](Dims a, Dims b, Dims out, const std::string& block) {
    return std::make_unique<LtGemm>(lt, CUBLAS_OP_N, a, CUBLAS_OP_N, b, out, batch, types,
                                    workspace_bytes, what + block);
  };
  if (split == 0) {
    const Dims square = whole(small, small);
    product.blocks_.push_back({gemm(square, square, square, ""), 0, 0, 0});
    return product;
  }
  // Rows of L times columns of M: D11 = L1. M.1, D21 = L2. M.1, D22 = L2. M.2, where L1. is L's
  // first s1 rows and M.1 M's first s1 columns (column-major, so a row block starts s1 elements
  // in and keeps ld = small).
  const int64_t s1 = split, s2 = small - split;
  const auto rows_of_left = [&](int64_t r) { return Dims{r, small, small, stride}; };
  const auto cols_of_right = [&](int64_t c) { return Dims{small, c, small, stride}; };
  const auto block = [&](int64_t r, int64_t c) { return Dims{r, c, small, stride}; };
  product.blocks_.push_back(
      {gemm(rows_of_left(s1), cols_of_right(s1), block(s1, s1), " (block 11)"), 0, 0, 0});
  product.blocks_.push_back(
      {gemm(rows_of_left(s2), cols_of_right(s1), block(s2, s1), " (block 21)"), s1, 0, s1});
  product.blocks_.push_back(
      {gemm(rows_of_left(s2), cols_of_right(s2), block(s2, s2), " (block 22)"), s1, s1 * small,
       s1 + s1 * small});
  return product;
}

void SymmetricProduct::operator()(const void* left, const void* right, void* out,
                                  const LtWorkspace& workspace, cudaStream_t stream) const {
  const Storage operands = types_.operands(), result = types_.result();
  for (const Block& b : blocks_) {
    void* d = offset_bytes(out, b.out, result);
    (*b.gemm)(1.0f, offset_bytes(left, b.left, operands), offset_bytes(right, b.right, operands),
              0.0f, d, d, workspace, stream);
  }
  if (mirror_ == Mirror::lower)
    launch_mirror_lower(out, {small_, batch_}, result, stream);
  else if (split_ > 0)
    launch_mirror_block(out, {small_, split_, batch_}, result, stream);
}

}  // namespace rootopt::cuda
