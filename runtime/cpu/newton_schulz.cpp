#include "newton_schulz.h"

#include <Eigen/Core>
#include <cmath>

#include "check.h"
#include "matrix_view.h"
#include "rootopt/bf16.h"

namespace rootopt::detail::cpu {
namespace {

using Map = Eigen::Map<RowMatrix>;

template <typename Matrix>
void round_to_bf16_in_place(Matrix&& m) {
  m = m.unaryExpr([](float v) { return round_to_bf16(v); });
}

}  // namespace

void NewtonSchulzWorkspace::reserve(int64_t rank, int64_t cols) {
  const auto square = static_cast<size_t>(rank * rank);
  const auto wide = static_cast<size_t>(rank * cols);
  if (gram_.size() < square) gram_.resize(square);
  if (poly_.size() < square) poly_.resize(square);
  if (next_.size() < wide) next_.resize(wide);
}

void normalize_frobenius(float* values, int64_t count) {
  double sum_of_squares = 0;
  for (int64_t i = 0; i < count; ++i) sum_of_squares += double(values[i]) * double(values[i]);
  const float denominator = static_cast<float>(std::sqrt(sum_of_squares)) + 1e-7f;
  for (int64_t i = 0; i < count; ++i) values[i] /= denominator;
}

void newton_schulz(float* x, int64_t rows, int64_t cols, const Schedule& schedule,
                   Precision precision, NewtonSchulzWorkspace& workspace) {
  ROOTOPT_ASSERT(rows <= cols, "Newton-Schulz expects a wide matrix, got ", rows, "x", cols);
  ROOTOPT_CHECK(precision == Precision::fp32 || precision == Precision::bf16,
                "the runtime runs Newton-Schulz in fp32 or bf16, not ", to_string(precision));
  const bool bf16 = precision == Precision::bf16;
  Map X(x, rows, cols);
  Map A(workspace.gram(), rows, rows);
  Map P(workspace.polynomial(), rows, rows);
  Map next(workspace.next(), rows, cols);
  if (bf16) round_to_bf16_in_place(X);
  for (int64_t k = 0; k < schedule.size(); ++k) {
    const auto a = static_cast<float>(schedule[k].a);
    const auto b = static_cast<float>(schedule[k].b);
    const auto c = static_cast<float>(schedule[k].c);
    // A is symmetric: compute the lower triangle only (half the GEMM's flops) and mirror it.
    A.setZero();
    A.selfadjointView<Eigen::Lower>().rankUpdate(X);
    A.triangularView<Eigen::StrictlyUpper>() = A.transpose();
    if (bf16) round_to_bf16_in_place(A);
    P.noalias() = A * A;
    P = c * P + b * A;
    if (bf16) round_to_bf16_in_place(P);
    next.noalias() = P * X;
    next += a * X;
    if (bf16) round_to_bf16_in_place(next);
    X = next;
  }
}

}  // namespace rootopt::detail::cpu
