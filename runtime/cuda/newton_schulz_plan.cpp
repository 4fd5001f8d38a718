// The Newton-Schulz step sequence of a recipe on cuBLASLt (see newton_schulz_plan.h for the math
// and docs/recipes.md for the contract it follows operation by operation).
#include "newton_schulz_plan.h"

#include <string>
#include <utility>

#include "check.h"
#include "newton_schulz_kernels.h"
#include "step_kernels.h"

namespace rootopt::cuda {

namespace {

// Rows of the A11 block of a split symmetric product, 0 for none. A multiple of 128 elements, so
// every block pointer keeps 256-byte alignment (cuBLASLt's default assumption).
int64_t symmetric_split(const PlanShape& shape) {
  const int64_t small = shape.small();
  return small >= shape.split_from ? (small / 2) / 128 * 128 : 0;
}

}  // namespace

PlanNeeds plan_needs(const Recipe& recipe, Precision working) {
  PlanNeeds needs;
  needs.gram_form = recipe.form == IterationForm::gram;
  for (int64_t k = 0; k < recipe.steps(); ++k)
    needs.tf32 = needs.tf32 || recipe.step_precision(k, working) == Precision::tf32;
  return needs;
}

// Every GEMM a step in one precision may need (only those of the recipe's form are planned).
struct NewtonSchulzPlan::Gemms {
  Precision precision;
  std::unique_ptr<SymmetricProduct> gram;    // A = X X^T; gram form: R0 and restarts
  std::unique_ptr<SymmetricProduct> square;  // A2 = A A, R2 = R R (fp32 out)
  // standard form
  std::unique_ptr<LtGemm> poly;    // P = c A A + b A
  std::unique_ptr<LtGemm> update;  // X' = a X + P X; X1 = H1 X0 with beta 0
  // gram form
  std::unique_ptr<LtGemm> times;               // H Q and H R
  std::unique_ptr<SymmetricProduct> sandwich;  // R = T H
  std::unique_ptr<LtGemm> apply;               // Q X0

  Gemms(cublasLtHandle_t lt, const PlanShape& shape, Precision step, const Recipe& recipe,
        size_t workspace_bytes)
      : precision(step) {
    const int64_t small = shape.small(), split = symmetric_split(shape);
    const std::string where = detail::concat(" of ", shape.batch, " x ", shape.rows, "x",
                                             shape.cols, " in ", to_string(step));
    const GemmTypes types{step, false}, fp32_out{step, true};
    // Column-major view D of the row-major m x n matrices: n x m.
    const Dims d = whole(shape.cols, shape.rows), sq = whole(small, small);
    const bool wide = shape.rows <= shape.cols;
    const auto N = CUBLAS_OP_N, T = CUBLAS_OP_T;
    const auto gemm = [&](cublasOperation_t op_a, Dims a, cublasOperation_t op_b, Dims b, Dims cd,
                          const std::string& what) {
      return std::make_unique<LtGemm>(lt, op_a, a, op_b, b, cd, shape.batch, types, workspace_bytes,
                                      what + where);
    };
    gram = std::make_unique<SymmetricProduct>(SymmetricProduct::gram(
        lt, shape.rows, shape.cols, shape.batch, split, types, workspace_bytes, where));
    const bool gram_form = recipe.form == IterationForm::gram;
    if (gram_form || recipe.normalization != Normalization::frobenius)
      square = std::make_unique<SymmetricProduct>(
          SymmetricProduct::square(lt, small, shape.batch, split, SymmetricProduct::Mirror::block,
                                   fp32_out, workspace_bytes, "square GEMM A A, fp32 out" + where));
    if (!gram_form) {
      poly = gemm(N, sq, N, sq, sq, "polynomial GEMM P = c A A + b A");
      // Wide: X' = a X + X P on the column-major view (P symmetric); tall: X' = a X + P X.
      update = gemm(N, wide ? d : sq, N, wide ? sq : d, d, "update GEMM X = a X + P X");
      return;
    }
    times = gemm(N, sq, N, sq, sq, "Gram-form GEMM H Q / H R");
    sandwich = std::make_unique<SymmetricProduct>(
        SymmetricProduct::square(lt, small, shape.batch, split, SymmetricProduct::Mirror::lower,
                                 types, workspace_bytes, "Gram-form GEMM R = T H" + where));
    // X = Q X0 for a general Q: wide, D' = D Q^T on the column-major view; tall, D' = Q D.
    apply = wide ? gemm(N, d, T, sq, d, "Gram-form GEMM X = Q X0")
                 : gemm(N, sq, N, d, d, "Gram-form GEMM X = Q X0");
  }
};

NewtonSchulzPlan::NewtonSchulzPlan(const LtHandle& lt, PlanShape shape, Recipe recipe,
                                   Precision working, size_t workspace_bytes)
    : shape_(shape), recipe_(std::move(recipe)), working_(working) {
  ROOTOPT_CHECK(working == Precision::bf16 || working == Precision::fp32,
                "the CUDA backend runs Newton-Schulz in bf16 or fp32, not ", to_string(working));
  recipe_.validate(detail::concat("the Newton-Schulz plan of ", shape.batch, " x ", shape.rows, "x",
                                  shape.cols));
  const int64_t steps = recipe_.steps();
  restart_after_.assign(size_t(steps), false);
  for (const int64_t k : recipe_.restarts) restart_after_.at(size_t(k - 1)) = true;
  for (int64_t k = 0; k < steps; ++k) {
    bool planned = false;
    for (const auto& g : gemms_) planned = planned || g->precision == step_precision(k);
    if (!planned)
      gemms_.push_back(
          std::make_unique<Gemms>(lt.get(), shape_, step_precision(k), recipe_, workspace_bytes));
  }
}

NewtonSchulzPlan::~NewtonSchulzPlan() = default;

const NewtonSchulzPlan::Gemms& NewtonSchulzPlan::gemms(int64_t k) const {
  for (const auto& g : gemms_)
    if (g->precision == step_precision(k)) return *g;
  ROOTOPT_ASSERT(false, "no GEMMs planned for step ", k);
}

int NewtonSchulzPlan::schatten_order() const {
  return recipe_.normalization == Normalization::frobenius
             ? 0
             : rootopt::schatten_order(recipe_.normalization);
}

PlanResult NewtonSchulzPlan::run(const PlanBuffers& buffers, cudaStream_t stream) const {
  return recipe_.form == IterationForm::gram ? run_gram(buffers, stream)
                                             : run_standard(buffers, stream);
}

PlanResult NewtonSchulzPlan::run_standard(const PlanBuffers& b, cudaStream_t stream) const {
  const bool wide = shape_.rows <= shape_.cols;
  const SquareBatch squares{shape_.small(), shape_.batch};
  const int64_t big = shape_.batch * shape_.rows * shape_.cols;
  const int64_t small_total = squares.count * squares.elements();
  const int order = schatten_order();
  void* x = b.x;
  void* next = b.x_other;
  Storage storage = input_storage();
  for (int64_t k = 0; k < recipe_.steps(); ++k) {
    const Gemms& g = gemms(k);
    const QuinticStep& step = recipe_.schedule[k];
    if (storage_of(g.precision) != storage) {  // into the tail: X widened, exactly
      launch_widen(x, static_cast<float*>(next), big, stream);
      std::swap(x, next);
      storage = storage_of(g.precision);
    }
    // tf32: the GEMMs read TF32 copies of X and A; the fp32 values stay for the epilogues
    // (+ a X, + b A) and the polynomial kernel.
    const bool tf32 = g.precision == Precision::tf32;
    const void* x_operand = x;
    if (tf32) {
      launch_round_tf32(static_cast<const float*>(x), static_cast<float*>(b.x_rounded), big,
                        stream);
      x_operand = b.x_rounded;
    }
    (*g.gram)(x_operand, x_operand, b.gram, b.workspace, stream);
    const void* a_operand = b.gram;
    if (tf32) {
      launch_round_tf32(static_cast<const float*>(b.gram), static_cast<float*>(b.rounded),
                        small_total, stream);
      a_operand = b.rounded;
    }
    const void* p = b.poly;  // what multiplies X
    float beta = static_cast<float>(step.a);
    if (k == 0 && order != 0) {
      // Schatten: A2 = A A in fp32, alpha per matrix from A or A2, H1 over A (read, then written
      // element by element), X1 = H1 X0.
      (*g.square)(a_operand, a_operand, b.poly, b.workspace, stream);
      launch_square_sum(order == 4 ? b.gram : b.poly, order == 4 ? storage : Storage::fp32, squares,
                        b.partial, stream);
      PolynomialArgs args{step.a, step.b, step.c, b.partial, order, tf32};
      launch_polynomial(b.gram, static_cast<const float*>(b.poly), b.gram, storage, squares, args,
                        stream);
      p = b.gram;
      beta = 0.0f;
    } else {
      (*g.poly)(static_cast<float>(step.c), a_operand, a_operand, static_cast<float>(step.b),
                b.gram, b.poly, b.workspace, stream);
      if (tf32)  // P is only a GEMM operand: round it where it is
        launch_round_tf32(static_cast<const float*>(b.poly), static_cast<float*>(b.poly),
                          small_total, stream);
    }
    // Wide: X' = a X + X P on the column-major view (P symmetric); tall: X' = a X + P X.
    (*g.update)(1.0f, wide ? x_operand : p, wide ? p : x_operand, beta, x, next, b.workspace,
                stream);
    std::swap(x, next);
  }
  return {x, storage};
}

PlanResult NewtonSchulzPlan::run_gram(const PlanBuffers& b, cudaStream_t stream) const {
  const bool wide = shape_.rows <= shape_.cols;
  const SquareBatch squares{shape_.small(), shape_.batch};
  const int64_t big = shape_.batch * shape_.rows * shape_.cols;
  const int64_t small_total = squares.count * squares.elements();
  const int order = schatten_order();
  const int64_t steps = recipe_.steps();
  // Roles move between buffers (no copies): R and the fp32 scratch (R2, then T), X0 and its
  // partner, H and Q and Q's partner.
  void *x = b.x, *x_spare = b.x_other;
  void *r = b.gram, *scratch = b.poly;
  void *h = b.h, *q = b.q, *q_spare = b.q_other;
  const auto round_in_place = [&](void* m, int64_t count) {
    launch_round_tf32(static_cast<const float*>(m), static_cast<float*>(m), count, stream);
  };
  Storage storage = input_storage();
  if (storage_of(step_precision(0)) != storage) {  // step 1 in the tail: X0 widened, exactly
    launch_widen(x, static_cast<float*>(x_spare), big, stream);
    std::swap(x, x_spare);
    storage = storage_of(step_precision(0));
  }
  // A tf32 step 1 needs no rounding of X0 here: tf32 steps exist only under bf16 working
  // precision, so X0 holds widened bf16 values, which TF32 represents exactly.
  (*gemms(0).gram)(x, x, r, b.workspace, stream);
  bool identity = true;  // Q = I, implicit
  for (int64_t k = 0; k < steps; ++k) {
    const Gemms& g = gemms(k);
    const QuinticStep& step = recipe_.schedule[k];
    if (storage_of(g.precision) != storage) {  // into the tail: R, Q and X0 widened, exactly
      launch_widen(r, static_cast<float*>(scratch), small_total, stream);
      std::swap(r, scratch);
      if (!identity) {
        launch_widen(q, static_cast<float*>(q_spare), small_total, stream);
        std::swap(q, q_spare);
      }
      launch_widen(x, static_cast<float*>(x_spare), big, stream);  // bf16 values: exact in TF32
      std::swap(x, x_spare);
      storage = storage_of(g.precision);
    }
    // tf32: R is read elementwise by the polynomial kernel, so the GEMMs get a TF32 copy; H, Q, T
    // and X0 are only GEMM operands and are rounded where they are.
    const bool tf32 = g.precision == Precision::tf32;
    const void* r_operand = r;
    if (tf32) {
      launch_round_tf32(static_cast<const float*>(r), static_cast<float*>(b.rounded), small_total,
                        stream);
      r_operand = b.rounded;
    }
    (*g.square)(r_operand, r_operand, scratch, b.workspace, stream);  // R2, fp32
    PolynomialArgs args{step.a, step.b, step.c, nullptr, 0, tf32};
    if (k == 0 && order != 0) {
      launch_square_sum(order == 4 ? r : scratch, order == 4 ? storage : Storage::fp32, squares,
                        b.partial, stream);
      args.partial = b.partial;
      args.schatten_order = order;
    }
    launch_polynomial(r, static_cast<const float*>(scratch), h, storage, squares, args, stream);
    const void* h_k = h;  // this step's H
    if (identity) {       // Q = H: H's buffer becomes Q's, the free one H's
      std::swap(q, h);
      h_k = q;
      identity = false;
    } else {
      (*g.times)(1.0f, h, q, 0.0f, q_spare, q_spare, b.workspace, stream);  // Q = H Q
      std::swap(q, q_spare);
      if (tf32) round_in_place(q, small_total);
    }
    if (k + 1 == steps) break;
    if (restart_after_[size_t(k)]) {  // X0 = Q X0, R = X0 X0^T, Q = I
      (*g.apply)(1.0f, wide ? x : q, wide ? q : x, 0.0f, x_spare, x_spare, b.workspace, stream);
      std::swap(x, x_spare);
      if (tf32) round_in_place(x, big);
      (*g.gram)(x, x, r, b.workspace, stream);
      identity = true;
    } else {
      (*g.times)(1.0f, h_k, r_operand, 0.0f, scratch, scratch, b.workspace, stream);  // T = H R
      if (tf32) round_in_place(scratch, small_total);
      (*g.sandwich)(scratch, h_k, r, b.workspace, stream);  // R = T H, lower triangle mirrored
    }
  }
  const Gemms& last = gemms(steps - 1);
  (*last.apply)(1.0f, wide ? x : q, wide ? q : x, 0.0f, x_spare, x_spare, b.workspace, stream);
  return {x_spare, storage};
}

}  // namespace rootopt::cuda
