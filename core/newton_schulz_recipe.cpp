// The recipe arithmetic of docs/recipes.md, operation by operation; each block cites the line of
// the contract it implements.
#include "newton_schulz_recipe.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <type_traits>
#include <utility>

#include "check.h"
#include "rootopt/bf16.h"
#include "rootopt/tf32.h"

namespace rootopt::detail {
namespace {

template <typename Scalar>
using Map = Eigen::Map<RowMajorMatrix<Scalar>>;
template <typename Scalar>
using ConstMap = Eigen::Map<const RowMajorMatrix<Scalar>>;

// Step 0's guard against a zero matrix: the runtime's 1e-7 in fp32; in the fp64 reference the
// smallest normal double, so that the normalised spectrum keeps sum s_i^2 = 1 to rounding and the
// spectral model (spectral.h) applies exactly.
template <typename Scalar>
Scalar frobenius_guard() {
  return std::is_same_v<Scalar, float> ? Scalar(1e-7f) : std::numeric_limits<Scalar>::min();
}

// Turbo-Muon's floor under the AOL row sums (its epsilon, arXiv 2512.04632): a zero row gets a
// finite scale instead of 1/0.
constexpr double kAolRowSumFloor = 1e-7;

// Which GEMM operands a step has to round to TF32: an r x r matrix goes to one of two square
// scratch buffers, the r x cols iterate to the wide one.
enum class Slot { square1, square2, wide };

// Whether any step of the recipe runs in TF32 (docs/recipes.md, "Precision of a step").
bool has_tf32_step(const Recipe& recipe, Precision working) {
  for (int64_t k = 0; k < recipe.steps(); ++k)
    if (recipe.step_precision(k, working) == Precision::tf32) return true;
  return false;
}

void check_working_precision(bool is_float, Precision working) {
  ROOTOPT_ASSERT(is_float ? working != Precision::fp64 : working == Precision::fp64,
                 "newton_schulz_recipe: working precision ", to_string(working), " on ",
                 is_float ? "float" : "double", " buffers");
}

// One run of newton_schulz_recipe(): the buffers, the current iterate and the arithmetic of
// each step.
template <typename Scalar>
class Iteration {
 public:
  using Workspace = NewtonSchulzWorkspace<Scalar>;

  Iteration(Scalar* x, int64_t rows, int64_t cols, const Recipe& recipe, Precision working,
            Scalar* const (&square)[Workspace::kSquareCount],
            Scalar* const (&wide)[Workspace::kWideCount], Scalar* scales)
      : x_(x), rows_(rows), cols_(cols), recipe_(recipe), working_(working), scales_(scales) {
    std::copy(std::begin(square), std::end(square), square_);
    std::copy(std::begin(wide), std::end(wide), wide_);
    current_ = x;
    spare_ = wide_[Workspace::kNext];
  }

  void run() {
    // Step 0: X0 = rnd(B / (||B||_F + guard)), rounded to the working precision's storage.
    normalize_frobenius(x_, rows_ * cols_);
    store(working_, iterate());
    // aol replaces step 1's Gram matrix by the rescaled one (no extra GEMM).
    const bool gram_ready = recipe_.normalization == Normalization::aol;
    if (gram_ready) aol(precision(0));
    if (recipe_.form == IterationForm::standard) {
      standard_form(gram_ready);
    } else {
      gram_form(gram_ready);
    }
    if (current_ != x_) std::copy(current_, current_ + rows_ * cols_, x_);
  }

 private:
  struct Coefficients {
    Scalar a, b, c;
  };

  Map<Scalar> square(int index) const { return {square_[index], rows_, rows_}; }
  Map<Scalar> iterate() const { return {current_, rows_, cols_}; }
  Map<Scalar> spare() const { return {spare_, rows_, cols_}; }
  // The product just written to spare() becomes the iterate.
  void advance() { std::swap(current_, spare_); }

  Precision precision(int64_t k) const { return recipe_.step_precision(k, working_); }

  // rnd(): a GEMM output or elementwise result of a step in `p` is stored as bf16 in a bf16 step
  // (round to nearest even), unchanged otherwise.
  static void store(Precision p, Map<Scalar> m) {
    if constexpr (std::is_same_v<Scalar, float>) {
      if (p == Precision::bf16) m = m.unaryExpr([](float v) { return round_to_bf16(v); });
    }
  }

  // What a GEMM in `p` reads as an operand: the stored matrix; in a tf32 step its rounding to
  // TF32 on entry (a copy in `slot`: the stored fp32 value may still be a C operand). bf16
  // operands are stored bf16 already: every matrix a bf16 step reads was rounded when stored.
  ConstMap<Scalar> operand(Precision p, const Map<Scalar>& m, Slot slot) const {
    if constexpr (std::is_same_v<Scalar, float>) {
      if (p == Precision::tf32) {
        Scalar* copy =
            slot == Slot::wide
                ? wide_[Workspace::kWideOperand]
                : square_[slot == Slot::square1 ? Workspace::kOperand1 : Workspace::kOperand2];
        Map<Scalar>(copy, m.rows(), m.cols()) =
            m.unaryExpr([](float v) { return round_to_tf32(v); });
        return {copy, m.rows(), m.cols()};
      }
    }
    return {m.data(), m.rows(), m.cols()};
  }

  // The symmetric result's strictly upper triangle from its lower one.
  static void mirror_lower(Map<Scalar> m) {
    m.template triangularView<Eigen::StrictlyUpper>() = m.transpose();
  }

  // d = rnd(X X^T): the lower triangle by a symmetric rank update (half a GEMM's flops), mirrored.
  void gram(Precision p, Map<Scalar> d, const Map<Scalar>& x) const {
    d.setZero();
    d.template selfadjointView<Eigen::Lower>().rankUpdate(operand(p, x, Slot::wide));
    mirror_lower(d);
    store(p, d);
  }

  // d = l r for a product known to be symmetric (A A, R R, T H = H R H): the lower triangle only,
  // mirrored. Not rounded here: A^2 and R^2 are "fp32 out", the caller stores the others.
  void symmetric_product(Precision p, Map<Scalar> d, const Map<Scalar>& l,
                         const Map<Scalar>& r) const {
    const ConstMap<Scalar> lo = operand(p, l, Slot::square1);
    if (l.data() == r.data()) {
      d.template triangularView<Eigen::Lower>() = lo * lo;
    } else {
      d.template triangularView<Eigen::Lower>() = lo * operand(p, r, Slot::square2);
    }
    mirror_lower(d);
  }

  // d = rnd(l r), a general product (r x r times r x r or r x cols).
  void product(Precision p, Map<Scalar> d, const Map<Scalar>& l, const Map<Scalar>& r) const {
    const Slot right = r.cols() == rows_ ? Slot::square2 : Slot::wide;
    d.noalias() = operand(p, l, Slot::square1) * operand(p, r, right);
    store(p, d);
  }

  // d = c m2 + b m (+ a I): the Frobenius step's P (one GEMM with epilogue, m as its C operand)
  // and the Gram step's H (elementwise). d may be m2.
  static void polynomial(Map<Scalar> d, const Map<Scalar>& m, const Map<Scalar>& m2,
                         const Coefficients& k, bool with_identity) {
    d = k.c * m2 + k.b * m;
    if (with_identity) d.diagonal().array() += k.a;
  }

  Coefficients coefficients(int64_t k) const {
    const QuinticStep& st = recipe_.schedule[k];
    return {static_cast<Scalar>(st.a), static_cast<Scalar>(st.b), static_cast<Scalar>(st.c)};
  }

  // Schatten-p folding into step 1 (docs/recipes.md, "Normalization", items 3-5): s from the
  // stored A (p = 4) or A^2 (p = 8) in fp64, alpha = s^(1/p) rounded to the working scalar (1 for
  // a zero or non-finite s), then a/alpha, b/alpha^3, c/alpha^5 in fp64 from that alpha.
  Coefficients folded_step1(const Map<Scalar>& a, const Map<Scalar>& a2) const {
    const bool p4 = recipe_.normalization == Normalization::schatten4;
    const Map<Scalar>& m = p4 ? a : a2;
    double s = 0;
    for (int64_t i = 0; i < m.size(); ++i) s += double(m.data()[i]) * double(m.data()[i]);
    const double root = p4 ? std::sqrt(std::sqrt(s)) : std::sqrt(std::sqrt(std::sqrt(s)));
    Scalar alpha = static_cast<Scalar>(root);
    if (!(s > 0) || !std::isfinite(alpha) || !(alpha >= std::numeric_limits<Scalar>::min()))
      alpha = 1;
    const double al = alpha, al3 = al * al * al;
    const QuinticStep& st = recipe_.schedule[0];
    return {static_cast<Scalar>(st.a / al), static_cast<Scalar>(st.b / al3),
            static_cast<Scalar>(st.c / (al3 * al * al))};
  }

  bool schatten() const {
    return recipe_.normalization == Normalization::schatten4 ||
           recipe_.normalization == Normalization::schatten8;
  }

  // AOL (Turbo-Muon, arXiv 2512.04632): A = rnd(X0 X0^T); s_i = (sum_j |A_ij|)^(-1/2) with the
  // sum (fp64, from the stored A) floored at 1e-7; X0 <- rnd(diag(s) X0);
  // A <- rnd(diag(s) A diag(s)), which step 1 uses as its Gram matrix.
  void aol(Precision p) {
    Map<Scalar> a = square(Workspace::kGram), x = iterate();
    gram(p, a, x);
    for (int64_t i = 0; i < rows_; ++i) {
      double sum = 0;
      for (int64_t j = 0; j < rows_; ++j) sum += std::abs(double(a(i, j)));
      scales_[i] = static_cast<Scalar>(1.0 / std::sqrt(std::max(sum, kAolRowSumFloor)));
    }
    for (int64_t i = 0; i < rows_; ++i) x.row(i) *= scales_[i];
    for (int64_t i = 0; i < rows_; ++i)
      for (int64_t j = 0; j < rows_; ++j) a(i, j) = a(i, j) * scales_[i] * scales_[j];
    store(p, x);
    store(p, a);
  }

  // Standard form, step k: A = rnd(X X^T); P = rnd(c (A A) + b A); X = rnd(P X + a X).
  // Under Schatten, step 1 is A = rnd(X0 X0^T); A2 = A A (fp32 out); H1 = rnd(a' I + b' A +
  // c' A2); X1 = rnd(H1 X0).
  void standard_form(bool gram_ready) {
    Map<Scalar> a = square(Workspace::kGram), poly = square(Workspace::kPolynomial);
    for (int64_t k = 0; k < recipe_.steps(); ++k) {
      const Precision p = precision(k);
      if (!(k == 0 && gram_ready)) gram(p, a, iterate());
      symmetric_product(p, poly, a, a);  // A A
      if (k == 0 && schatten()) {
        polynomial(poly, a, poly, folded_step1(a, poly), true);
        store(p, poly);
        product(p, spare(), poly, iterate());
      } else {
        const Coefficients co = coefficients(k);
        polynomial(poly, a, poly, co, false);
        store(p, poly);
        Map<Scalar> next = spare();
        next.noalias() = operand(p, poly, Slot::square1) * operand(p, iterate(), Slot::wide);
        next += co.a * iterate();
        store(p, next);
      }
      advance();
    }
  }

  // Gram form (Gram Newton-Schulz, Dao AI Lab 2026): R = rnd(X0 X0^T), Q = I; per step
  // R2 = R R (fp32 out), H = rnd(a I + b R + c R2), Q = rnd(H Q) (H when Q is I); unless last:
  // a restart (X0 = rnd(Q X0), R = rnd(X0 X0^T), Q = I) or T = rnd(H R), R = rnd(T H). Finally
  // X_K = rnd(Q X0). Every product of step k in step k's precision, R0 in step 1's.
  void gram_form(bool gram_ready) {
    Map<Scalar> r = square(Workspace::kGram), h = square(Workspace::kH), t = square(Workspace::kT);
    Scalar* q = square_[Workspace::kQ];
    Scalar* r2 = square_[Workspace::kPolynomial];
    const auto map = [this](Scalar* data) { return Map<Scalar>(data, rows_, rows_); };
    if (!gram_ready) gram(precision(0), r, iterate());
    bool q_is_identity = true;
    const int64_t steps = recipe_.steps();
    for (int64_t k = 0; k < steps; ++k) {
      const Precision p = precision(k);
      symmetric_product(p, map(r2), r, r);
      polynomial(h, r, map(r2), k == 0 && schatten() ? folded_step1(r, map(r2)) : coefficients(k),
                 true);
      store(p, h);
      if (q_is_identity) {
        map(q) = h;
        q_is_identity = false;
      } else {
        product(p, map(r2), h, map(q));  // R2 is free once H is formed
        std::swap(q, r2);
      }
      if (k + 1 == steps) break;
      if (std::binary_search(recipe_.restarts.begin(), recipe_.restarts.end(), k + 1)) {
        product(p, spare(), map(q), iterate());
        advance();
        gram(p, r, iterate());
        q_is_identity = true;
      } else {
        product(p, t, h, r);
        symmetric_product(p, r, t, h);
        store(p, r);
      }
    }
    product(precision(steps - 1), spare(), map(q), iterate());
    advance();
  }

  Scalar* const x_;
  const int64_t rows_, cols_;
  const Recipe& recipe_;
  const Precision working_;
  Scalar* square_[Workspace::kSquareCount];
  Scalar* wide_[Workspace::kWideCount];
  Scalar* const scales_;
  Scalar* current_;
  Scalar* spare_;
};

}  // namespace

template <typename Scalar>
void normalize_frobenius(Scalar* values, int64_t count) {
  double sum_of_squares = 0;
  for (int64_t i = 0; i < count; ++i) sum_of_squares += double(values[i]) * double(values[i]);
  const Scalar denominator =
      static_cast<Scalar>(std::sqrt(sum_of_squares)) + frobenius_guard<Scalar>();
  for (int64_t i = 0; i < count; ++i) values[i] /= denominator;
}

template <typename Scalar>
typename NewtonSchulzWorkspace<Scalar>::Sizes NewtonSchulzWorkspace<Scalar>::needs(
    int64_t rows, int64_t cols, const Recipe& recipe, Precision working) {
  check_working_precision(std::is_same_v<Scalar, float>, working);
  const auto square = static_cast<size_t>(rows * rows);
  const auto wide = static_cast<size_t>(rows * cols);
  const bool gram = recipe.form == IterationForm::gram;
  const bool tf32 = has_tf32_step(recipe, working);
  Sizes sizes{};
  sizes.square[kGram] = square;
  sizes.square[kPolynomial] = square;
  for (int i : {kH, kQ, kT}) sizes.square[i] = gram ? square : 0;
  for (int i : {kOperand1, kOperand2}) sizes.square[i] = tf32 ? square : 0;
  sizes.wide[kNext] = wide;
  sizes.wide[kWideOperand] = tf32 ? wide : 0;
  sizes.scales = recipe.normalization == Normalization::aol ? static_cast<size_t>(rows) : 0;
  return sizes;
}

template <typename Scalar>
void NewtonSchulzWorkspace<Scalar>::reserve(int64_t rows, int64_t cols, const Recipe& recipe,
                                            Precision working) {
  const Sizes sizes = needs(rows, cols, recipe, working);
  for (int i = 0; i < kSquareCount; ++i)
    if (square_[i].size() < sizes.square[i]) square_[i].resize(sizes.square[i]);
  for (int i = 0; i < kWideCount; ++i)
    if (wide_[i].size() < sizes.wide[i]) wide_[i].resize(sizes.wide[i]);
  if (scales_.size() < sizes.scales) scales_.resize(sizes.scales);
}

template <typename Scalar>
void newton_schulz_recipe(Scalar* x, int64_t rows, int64_t cols, const Recipe& recipe,
                          Precision working, NewtonSchulzWorkspace<Scalar>& workspace) {
  using Workspace = NewtonSchulzWorkspace<Scalar>;
  ROOTOPT_ASSERT(rows >= 1 && rows <= cols, "Newton-Schulz expects a wide matrix, got ", rows, "x",
                 cols);
  ROOTOPT_ASSERT(recipe.steps() >= 1, "a recipe without steps");
  // A workspace reserved for a smaller matrix or another recipe would be written past its end.
  const typename Workspace::Sizes sizes = Workspace::needs(rows, cols, recipe, working);
  Scalar* square[Workspace::kSquareCount];
  Scalar* wide[Workspace::kWideCount];
  for (int i = 0; i < Workspace::kSquareCount; ++i) {
    ROOTOPT_ASSERT(workspace.square_[i].size() >= sizes.square[i],
                   "Newton-Schulz workspace not reserved for ", rows, "x", cols);
    square[i] = workspace.square_[i].data();
  }
  for (int i = 0; i < Workspace::kWideCount; ++i) {
    ROOTOPT_ASSERT(workspace.wide_[i].size() >= sizes.wide[i],
                   "Newton-Schulz workspace not reserved for ", rows, "x", cols);
    wide[i] = workspace.wide_[i].data();
  }
  ROOTOPT_ASSERT(workspace.scales_.size() >= sizes.scales, "AOL scales not reserved");
  Iteration<Scalar>(x, rows, cols, recipe, working, square, wide, workspace.scales_.data()).run();
}

template void normalize_frobenius<float>(float*, int64_t);
template void normalize_frobenius<double>(double*, int64_t);
template class NewtonSchulzWorkspace<float>;
template class NewtonSchulzWorkspace<double>;
template void newton_schulz_recipe<float>(float*, int64_t, int64_t, const Recipe&, Precision,
                                          NewtonSchulzWorkspace<float>&);
template void newton_schulz_recipe<double>(double*, int64_t, int64_t, const Recipe&, Precision,
                                           NewtonSchulzWorkspace<double>&);

}  // namespace rootopt::detail
