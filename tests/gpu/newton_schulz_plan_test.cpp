// The pieces of a recipe's Newton-Schulz on the GPU, each against an independent host reference:
// the elementwise kernels (polynomial matrix with the Schatten scale folded in, widening, TF32
// rounding) bit for bit, the symmetric products (blocked or not, every mirror) against fp64
// products, and whole plans with the symmetric products split at a size compute-sanitizer can
// check against the same plans unsplit. All names carry "Sanitizer": tools/gpu-check runs them
// under memcheck, racecheck and synccheck.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <iostream>
#include <limits>
#include <random>
#include <tuple>

#include "cublaslt_gemm.h"
#include "gpu_test_support.h"
#include "newton_schulz_kernels.h"
#include "newton_schulz_plan.h"
#include "rootopt/bf16.h"
#include "step_kernels.h"

namespace rootopt::testing {
namespace {

using cuda::DeviceBuffer;
using cuda::Storage;

// fp32 -> TF32 to nearest, ties to even, by scaling to an integer multiple of the TF32 spacing
// (independent of the kernel's bit manipulation): 11 significant bits, and below the smallest
// normal the fixed spacing 2^-136 of TF32's subnormals; NaN and infinities unchanged.
float host_round_to_tf32(float x) {
  if (!std::isfinite(x) || x == 0) return x;
  int exponent = 0;
  std::frexp(double(x), &exponent);  // |x| in [2^(exponent - 1), 2^exponent)
  const int spacing = std::max(exponent - 11, -136);
  const double value = std::ldexp(std::nearbyint(std::ldexp(double(x), -spacing)), spacing);
  if (std::fabs(value) > double(std::numeric_limits<float>::max()))
    return std::copysign(std::numeric_limits<float>::infinity(), x);
  return static_cast<float>(value);
}

// The values as `storage` holds them.
std::vector<float> stored(std::vector<float> values, Storage storage) {
  return rounded(std::move(values), storage == Storage::bf16 ? DType::bf16 : DType::fp32);
}

// A device copy of host values in `storage`.
DeviceBuffer to_device(const std::vector<float>& values, Storage storage) {
  DeviceBuffer device(4 * values.size(), "test matrix");  // fp32-sized, as the workspace
  if (storage == Storage::fp32) {
    upload(device.get(), values.data(), 4 * values.size());
  } else {
    std::vector<uint16_t> bits(values.size());
    for (size_t i = 0; i < values.size(); ++i) bits[i] = float_to_bf16_bits(values[i]);
    upload(device.get(), bits.data(), 2 * bits.size());
  }
  return device;
}

std::vector<float> from_device(const void* device, size_t count, Storage storage) {
  ROOTOPT_CUDA_CHECK(cudaDeviceSynchronize(), "test sync");
  if (storage == Storage::fp32) return download<float>(device, int64_t(count));
  const std::vector<uint16_t> bits = download<uint16_t>(device, int64_t(count));
  std::vector<float> values(count);
  for (size_t i = 0; i < count; ++i) values[i] = bf16_bits_to_float(bits[i]);
  return values;
}

std::vector<float> uniform_values(size_t count, std::mt19937_64& rng, float scale) {
  std::uniform_real_distribution<float> uniform(-scale, scale);
  std::vector<float> values(count);
  for (float& v : values) v = uniform(rng);
  return values;
}

// H = rnd(a I + b R + c R2) against the host: the same fp32 operations in the same order
// (c r2 + b r, + a on the diagonal; no FMA on either side), the diagonal found by (row, col), and
// the Schatten fold computed independently (sum of squares in index order, std::pow). Equal bit
// for bit: alpha and the folded coefficients are rounded to fp32, and a last-bit difference in
// fp64 moves an fp32 rounding only with probability ~1e-9.
void check_polynomial(Storage storage, int64_t small, int64_t count, int order, bool tf32,
                      bool in_place) {
  std::mt19937_64 rng(71 + small + order);
  const size_t n = size_t(count * small * small);
  const std::vector<float> r = stored(uniform_values(n, rng, 0.3f), storage);
  const std::vector<float> r2 = uniform_values(n, rng, 0.2f);
  const DeviceBuffer r_device = to_device(r, storage), r2_device = to_device(r2, Storage::fp32);
  DeviceBuffer h_separate(4 * n, "H");
  DeviceBuffer partial(sizeof(double) * count * cuda::kMaxBlocksPerMatrix, "partial");
  void* h = in_place ? r_device.get() : h_separate.get();
  const cuda::SquareBatch batch{small, count};
  const QuinticStep step{3.4445, -4.7750, 2.0315};
  cuda::PolynomialArgs args{step.a, step.b, step.c, nullptr, 0, tf32};
  if (order != 0) {
    cuda::launch_square_sum(order == 4 ? r_device.get() : r2_device.get(),
                            order == 4 ? storage : Storage::fp32, batch, partial.as<double>(),
                            nullptr);
    args.partial = partial.as<double>();
    args.schatten_order = order;
  }
  cuda::launch_polynomial(r_device.get(), r2_device.as<float>(), h, storage, batch, args, nullptr);
  const std::vector<float> got = from_device(h, n, storage);
  for (int64_t m = 0; m < count; ++m) {
    const size_t base = size_t(m * small * small);
    float a = float(step.a), b = float(step.b), c = float(step.c);
    if (order != 0) {
      const std::vector<float>& source = order == 4 ? r : r2;
      double s = 0;
      for (size_t i = 0; i < size_t(small * small); ++i)
        s += double(source[base + i]) * double(source[base + i]);
      float alpha32 = static_cast<float>(std::pow(s, 1.0 / order));
      if (!(s > 0) || !std::isfinite(alpha32) || alpha32 < std::numeric_limits<float>::min())
        alpha32 = 1;
      const double alpha = alpha32;
      a = float(step.a / alpha);
      b = float(step.b / std::pow(alpha, 3));
      c = float(step.c / std::pow(alpha, 5));
    }
    for (int64_t col = 0; col < small; ++col)
      for (int64_t row = 0; row < small; ++row) {
        const size_t i = base + size_t(row + col * small);
        float v = c * r2[i] + b * r[i];
        if (row == col) v = v + a;
        if (tf32) v = host_round_to_tf32(v);
        const float expected = stored({v}, storage)[0];
        ASSERT_EQ(got[i], expected) << "matrix " << m << " (" << row << ", " << col << "), order "
                                    << order << (tf32 ? ", tf32" : "");
      }
  }
}

TEST(NewtonSchulzKernels, SanitizerPolynomialMatchesHost) {
  ROOTOPT_REQUIRE_CUDA();
  for (Storage storage : {Storage::bf16, Storage::fp32})
    for (int order : {0, 4, 8}) {
      check_polynomial(storage, 37, 3, order, false, false);  // 37^2 odd: scalar path
      check_polynomial(storage, 64, 2, order, false, true);   // vectorised, in place
    }
  check_polynomial(Storage::fp32, 40, 2, 8, true, false);
}

// A zero matrix has s = 0: alpha = 1, the coefficients stay as they are (no 0/0).
TEST(NewtonSchulzKernels, SanitizerZeroMatrixKeepsCoefficients) {
  ROOTOPT_REQUIRE_CUDA();
  const int64_t small = 8;
  const std::vector<float> zeros(small * small, 0.0f);
  const DeviceBuffer r = to_device(zeros, Storage::fp32), r2 = to_device(zeros, Storage::fp32);
  DeviceBuffer h(4 * zeros.size(), "H"), partial(sizeof(double) * cuda::kMaxBlocksPerMatrix, "p");
  cuda::launch_square_sum(r2.get(), Storage::fp32, {small, 1}, partial.as<double>(), nullptr);
  cuda::launch_polynomial(r.get(), r2.as<float>(), h.get(), Storage::fp32, {small, 1},
                          {2.5, 1.0, 1.0, partial.as<double>(), 8, false}, nullptr);
  const std::vector<float> got = from_device(h.get(), zeros.size(), Storage::fp32);
  for (int64_t i = 0; i < small * small; ++i)
    EXPECT_EQ(got[size_t(i)], i % (small + 1) == 0 ? 2.5f : 0.0f) << i;
}

TEST(NewtonSchulzKernels, SanitizerWidenAndRoundAreExact) {
  ROOTOPT_REQUIRE_CUDA();
  std::mt19937_64 rng(73);
  std::vector<float> values = uniform_values(1001, rng, 5.0f);
  // Ties (low 13 bits 0x1000: to even, both ways), the largest float (rounds to +inf), the
  // smallest normal, a subnormal, zeros, infinities, NaN.
  for (uint32_t bits : {0x3f801000u, 0x3f803000u, 0xbf801000u, 0x7f7fffffu, 0x00800000u,
                        0x00000fffu, 0x80000000u, 0x7f800000u, 0xff800000u, 0x7fc00000u}) {
    float v;
    std::memcpy(&v, &bits, 4);
    values.push_back(v);
  }
  const size_t n = values.size();
  ASSERT_EQ(n % 4, 3u);  // n: the scalar path; n - 3: the vectorised one
  for (size_t count : {n, n - 3}) {
    DeviceBuffer src = to_device(values, Storage::fp32), dst(4 * n, "dst");
    cuda::launch_round_tf32(src.as<float>(), dst.as<float>(), int64_t(count), nullptr);
    const std::vector<float> got = from_device(dst.get(), count, Storage::fp32);
    for (size_t i = 0; i < count; ++i) {
      const float expected = host_round_to_tf32(values[i]);
      if (std::isnan(expected))
        EXPECT_TRUE(std::isnan(got[i])) << i;
      else
        EXPECT_EQ(got[i], expected) << i << ": " << values[i];
    }
    const std::vector<float> bf16_values = stored(values, Storage::bf16);
    DeviceBuffer narrow = to_device(bf16_values, Storage::bf16), wide(4 * n, "wide");
    cuda::launch_widen(narrow.get(), wide.as<float>(), int64_t(count), nullptr);
    const std::vector<float> widened = from_device(wide.get(), count, Storage::fp32);
    for (size_t i = 0; i < count; ++i) {
      if (std::isnan(bf16_values[i]))
        EXPECT_TRUE(std::isnan(widened[i])) << i;
      else
        EXPECT_EQ(widened[i], bf16_values[i]) << i;
    }
  }
}

// ---- symmetric products ----

class LtFixture {
 public:
  LtFixture() : workspace_(size_t(32) << 20, "test cuBLASLt workspace") {}
  cublasLtHandle_t lt() const { return lt_.get(); }
  cuda::LtWorkspace workspace() const { return {workspace_.get(), workspace_.bytes()}; }

 private:
  cuda::LtHandle lt_;
  DeviceBuffer workspace_;
};

// Column-major small x small matrix m of a batch.
double at(const std::vector<float>& v, int64_t small, int64_t m, int64_t row, int64_t col) {
  return v[size_t(m * small * small + row + col * small)];
}

// The lower triangle of `got` against an fp64 product of the stored operands (relative Frobenius
// error: a bf16 result is rounded to 8 bits, ~2e-3 on average, so 1e-2; an fp32 result only
// accumulates rounding, ~sqrt(700) x 6e-8 for 700 terms, so 1e-5). An upper element the mirror
// copied (`mirrored(row, col)` for the lower one) must equal the lower bit for bit; one a GEMM
// computed is checked against the fp64 product like the lower ones (it is symmetric then) but not
// for bit equality: its dot product may be summed in another order than its mirror's (cuBLASLt
// may split K unevenly between output tiles); nothing relies on their bit symmetry. How many such
// pairs differ is printed, for docs/cuda-backend.md. X X^T and T H are mirrored whole (exact),
// R R only across the split.
template <typename Product, typename Mirrored>
void check_symmetric(const std::vector<float>& got, int64_t small, int64_t count, Product&& product,
                     Mirrored&& mirrored, double tolerance, const std::string& what) {
  double diff = 0, norm = 0;
  int64_t asymmetric = 0;
  const auto add = [&](double value, double expected) {
    diff += (value - expected) * (value - expected);
    norm += expected * expected;
  };
  for (int64_t m = 0; m < count; ++m)
    for (int64_t col = 0; col < small; ++col)
      for (int64_t row = col; row < small; ++row) {
        const double expected = product(m, row, col);
        const float lower = static_cast<float>(at(got, small, m, row, col));
        const float upper = static_cast<float>(at(got, small, m, col, row));
        add(lower, expected);
        if (mirrored(row, col)) {
          ASSERT_EQ(upper, lower) << what << ": mirror missing at (" << col << ", " << row
                                  << ") of matrix " << m;
        } else if (row != col) {
          add(upper, expected);
          asymmetric += upper != lower;
        }
      }
  EXPECT_LT(std::sqrt(diff / norm), tolerance) << what;
  std::cout << "  " << what << ": " << asymmetric
            << " element pairs computed by a GEMM on both sides differ in the last bits\n";
}

// Which (row >= col) elements' transposes the mirror kernels copy: all (lower), D21 -> D12 of a
// split product (block), none for one unsplit GEMM.
auto mirrored_by(cuda::SymmetricProduct::Mirror mirror, int64_t split) {
  return [mirror, split](int64_t row, int64_t col) {
    return mirror == cuda::SymmetricProduct::Mirror::lower
               ? row != col
               : split > 0 && row >= split && col < split;
  };
}

TEST(SymmetricProduct, SanitizerBlocksMatchFp64Products) {
  ROOTOPT_REQUIRE_CUDA();
  LtFixture f;
  std::mt19937_64 rng(79);
  const int64_t small = 300, count = 2, large = 700;
  const size_t n = size_t(count * small * small);
  for (Precision precision : {Precision::bf16, Precision::fp32}) {
    const Storage storage = cuda::storage_of(precision);
    const double tolerance = precision == Precision::bf16 ? 1e-2 : 1e-5;
    for (int64_t split : {int64_t(0), int64_t(128)}) {
      const std::string what = to_string(precision) + " split " + std::to_string(split);
      // R = T H, lower triangle mirrored (T, H general matrices here).
      const std::vector<float> t = stored(uniform_values(n, rng, 1.0f), storage),
                               hm = stored(uniform_values(n, rng, 1.0f), storage);
      const DeviceBuffer t_device = to_device(t, storage), h_device = to_device(hm, storage);
      DeviceBuffer out(4 * n, "D");
      using Mirror = cuda::SymmetricProduct::Mirror;
      const auto sandwich =
          cuda::SymmetricProduct::square(f.lt(), small, count, split, Mirror::lower,
                                         {precision, false}, size_t(32) << 20, "test T H");
      sandwich(t_device.get(), h_device.get(), out.get(), f.workspace(), nullptr);
      check_symmetric(
          from_device(out.get(), n, storage), small, count,
          [&](int64_t m, int64_t row, int64_t col) {
            double sum = 0;
            for (int64_t k = 0; k < small; ++k)
              sum += at(t, small, m, row, k) * at(hm, small, m, k, col);
            return sum;
          },
          mirrored_by(Mirror::lower, split), tolerance, "T H " + what);
      // R2 = R R with fp32 out, R symmetric: block mirror only.
      std::vector<float> r = stored(uniform_values(n, rng, 1.0f), storage);
      for (int64_t m = 0; m < count; ++m)
        for (int64_t col = 0; col < small; ++col)
          for (int64_t row = 0; row < col; ++row)
            r[size_t(m * small * small + row + col * small)] =
                r[size_t(m * small * small + col + row * small)];
      const DeviceBuffer r_device = to_device(r, storage);
      const auto square =
          cuda::SymmetricProduct::square(f.lt(), small, count, split, Mirror::block,
                                         {precision, true}, size_t(32) << 20, "test R R");
      square(r_device.get(), r_device.get(), out.get(), f.workspace(), nullptr);
      check_symmetric(
          from_device(out.get(), n, Storage::fp32), small, count,
          [&](int64_t m, int64_t row, int64_t col) {
            double sum = 0;
            for (int64_t k = 0; k < small; ++k)
              sum += at(r, small, m, row, k) * at(r, small, m, k, col);
            return sum;
          },
          mirrored_by(Mirror::block, split), 1e-5, "R R (fp32 out) " + what);
      // A = X X^T of row-major rows x cols matrices, wide and tall.
      for (bool wide : {true, false}) {
        const int64_t rows = wide ? small : large, cols = wide ? large : small;
        const std::vector<float> x =
            stored(uniform_values(size_t(count * rows * cols), rng, 1.0f), storage);
        const DeviceBuffer x_device = to_device(x, storage);
        const auto gram = cuda::SymmetricProduct::gram(
            f.lt(), rows, cols, count, split, {precision, false}, size_t(32) << 20, " of the test");
        gram(x_device.get(), x_device.get(), out.get(), f.workspace(), nullptr);
        check_symmetric(
            from_device(out.get(), n, storage), small, count,
            [&](int64_t m, int64_t i, int64_t j) {  // (X X^T)_ij over the long side
              const float* xm = x.data() + m * rows * cols;
              double sum = 0;
              for (int64_t k = 0; k < large; ++k)
                sum += wide ? double(xm[i * cols + k]) * xm[j * cols + k]
                            : double(xm[k * cols + i]) * xm[k * cols + j];
              return sum;
            },
            mirrored_by(Mirror::lower, split), tolerance,
            std::string(wide ? "wide" : "tall") + " X X^T " + what);
      }
    }
  }
}

// ---- whole plans: split symmetric products equal unsplit ones ----

// A group's workspace for a plan, every buffer fp32-sized as cuda_backend.cpp allocates it.
struct PlanWorkspace {
  DeviceBuffer x, x_other, x_rounded, gram, poly, rounded, h, q, q_other, partial, lt;
  explicit PlanWorkspace(const cuda::PlanShape& s)
      : x(4 * size_t(s.batch * s.rows * s.cols), "x"),
        x_other(x.bytes(), "x'"),
        x_rounded(x.bytes(), "x tf32"),
        gram(4 * size_t(s.batch * s.small() * s.small()), "gram"),
        poly(gram.bytes(), "poly"),
        rounded(gram.bytes(), "rounded"),
        h(gram.bytes(), "h"),
        q(gram.bytes(), "q"),
        q_other(gram.bytes(), "q'"),
        partial(sizeof(double) * s.batch * cuda::kMaxBlocksPerMatrix, "partial"),
        lt(size_t(32) << 20, "workspace") {}
  cuda::PlanBuffers buffers() const {
    return {x.get(),
            x_other.get(),
            x_rounded.get(),
            gram.get(),
            poly.get(),
            rounded.get(),
            h.get(),
            q.get(),
            q_other.get(),
            partial.as<double>(),
            {lt.get(), lt.bytes()}};
  }
};

// X_K of the plan from X0 (row-major, batch matrices, Frobenius norm 1 each).
std::vector<float> run_plan(const cuda::LtHandle& lt, const cuda::PlanShape& shape,
                            const Recipe& recipe, Precision working, const std::vector<float>& x0) {
  const cuda::NewtonSchulzPlan plan(lt, shape, recipe, working, size_t(32) << 20);
  PlanWorkspace w(shape);
  w.x = to_device(x0, plan.input_storage());
  const cuda::PlanResult result = plan.run(w.buffers(), nullptr);
  return from_device(result.x, x0.size(), result.storage);
}

// The split changes only the summation order of the symmetric products (fp32: 1e-4, ~10x the
// measured order effects; bf16: the CUDA-vs-CPU bounds of recipe_test.cpp), and must not touch
// anything outside the blocks (memcheck) or race on the mirror (racecheck).
TEST(NewtonSchulzPlan, SanitizerSplitMatchesUnsplit) {
  ROOTOPT_REQUIRE_CUDA();
  const cuda::LtHandle lt;
  std::mt19937_64 rng(83);
  const auto s8 = Normalization::schatten8;
  const std::vector<std::pair<std::string, Recipe>> recipes{
      {"frobenius_standard5",
       polar_express_recipe(Normalization::frobenius, IterationForm::standard, 5)},
      {"schatten8_standard5", polar_express_recipe(s8, IterationForm::standard, 5)},
      {"schatten8_gram7_restart2", polar_express_recipe(s8, IterationForm::gram, 7, {2})},
      {"schatten8_gram5_tf32tail2",
       polar_express_recipe(s8, IterationForm::gram, 5, {}, 2, Precision::tf32)}};
  for (auto [rows, cols, batch] :
       std::vector<std::tuple<int64_t, int64_t, int64_t>>{{260, 400, 2}, {400, 260, 1}}) {
    std::vector<float> x0;
    for (int64_t m = 0; m < batch; ++m) {
      std::vector<float> one = random_values(rows * cols, rng);
      double s = 0;
      for (float v : one) s += double(v) * v;
      for (float& v : one) v = float(v / std::sqrt(s));
      x0.insert(x0.end(), one.begin(), one.end());
    }
    for (const auto& [name, recipe] : recipes)
      for (Precision working : {Precision::bf16, Precision::fp32}) {
        cuda::PlanShape unsplit{rows, cols, batch}, split = unsplit;
        split.split_from = 256;  // small side 260: A11 is 128 x 128
        const std::vector<float> expected = run_plan(lt, unsplit, recipe, working, x0);
        const std::vector<float> got = run_plan(lt, split, recipe, working, x0);
        ASSERT_TRUE(any_nonzero(got));
        const double tolerance = working == Precision::fp32           ? 1e-4
                                 : recipe.form == IterationForm::gram ? 8e-2
                                                                      : 5e-2;
        EXPECT_LT(relative_error(got, expected), tolerance)
            << name << " " << to_string(working) << " " << rows << "x" << cols;
      }
  }
}

}  // namespace
}  // namespace rootopt::testing
