// Bad gradients and bad input: NaN/Inf/overflow skip exactly one parameter with its state
// untouched bit for bit, a zero gradient gives a zero update (weights still decay), bf16
// parameters round once, the step is deterministic, and every invalid call throws a clear
// rootopt::Error before anything is modified.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <fstream>
#include <functional>
#include <limits>

#include "reference_root.h"
#include "rootopt/bf16.h"
#include "rootopt/coefficient_table.h"
#include "rootopt/error.h"
#include "runtime_test_support.h"

namespace rootopt::testing {
namespace {

using RuntimeRobustness = RuntimeTest;

// Runs `call`, expects a rootopt::Error whose message contains `fragment`.
template <typename Call>
void expect_error(Call&& call, const std::string& fragment) {
  try {
    call();
    ADD_FAILURE() << "no error; expected one mentioning '" << fragment << "'";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find(fragment), std::string::npos)
        << "message: " << e.what() << "\nexpected to contain: " << fragment;
  }
}

bool all_finite(const std::vector<float>& v) {
  for (float x : v) {
    if (!std::isfinite(x)) return false;
  }
  return true;
}

TEST_F(RuntimeRobustness, NonFiniteGradientSkipsThatParameterWithStateUntouched) {
  Optimizer opt(config(write_table()));
  std::mt19937_64 rng(5);
  HostParam a("a", 1, 64, 64, DType::fp32), b("b", 1, 7, 300, DType::bf16);
  a.set_theta(0, random_matrix(64, 64, rng, 0.05));
  b.set_theta(0, random_matrix(7, 300, rng, 0.05));
  const int64_t ia = opt.add_param(a.spec()), ib = opt.add_param(b.spec());
  a.set_grad(0, random_gradient(64, 64, rng));
  b.set_grad(0, random_gradient(7, 300, rng));
  opt.step();  // non-zero momentum before the bad steps

  const float inf = std::numeric_limits<float>::infinity();
  // NaN, +Inf, -Inf in one element; then finite gradients whose momentum/direction overflow.
  for (const float bad : {std::nanf(""), inf, -inf, 3e38f}) {
    a.set_grad(0, random_gradient(64, 64, rng));
    b.set_grad(0, random_gradient(7, 300, rng));
    if (bad == 3e38f) {
      a.set_grad(0, Eigen::MatrixXd::Constant(64, 64, 3e38));
    } else {
      a.set_grad_element(64 * 10 + 3, bad);
    }
    const std::vector<uint8_t> theta_a = a.theta_bytes(), theta_b = b.theta_bytes();
    const std::vector<float> momentum_a = opt.momentum(ia), momentum_b = opt.momentum(ib);
    warnings.clear();
    opt.step();
    EXPECT_EQ(a.theta_bytes(), theta_a) << "weights of the skipped parameter changed, bad " << bad;
    EXPECT_EQ(opt.momentum(ia), momentum_a) << "momentum of the skipped parameter changed";
    EXPECT_NE(b.theta_bytes(), theta_b) << "the healthy parameter was not updated";
    EXPECT_NE(opt.momentum(ib), momentum_b);
    EXPECT_TRUE(all_finite(opt.momentum(ib)));
    EXPECT_EQ(opt.last_report().skipped, std::vector<std::string>{"a"});
    ASSERT_EQ(warnings.size(), 1u);
    EXPECT_NE(warnings[0].find("'a' skipped"), std::string::npos) << warnings[0];
  }
  // A healthy step clears the report.
  a.set_grad(0, random_gradient(64, 64, rng));
  opt.step();
  EXPECT_TRUE(opt.last_report().skipped.empty());
  EXPECT_EQ(opt.last_report().step, 6);
}

// Issue 12, item 3: the update itself is checked, not only gradient and momentum. A damaged
// table cannot get here any more (CoefficientTable::set refuses maps beyond +-10, see
// table_checks_test.cpp), so the new weights overflow the other way: weights at the fp32 maximum
// and a huge learning rate. The step must skip that parameter as for a non-finite gradient, with
// its momentum and weights untouched bit for bit and one warning, in fp32 and bf16 arithmetic, and
// update the others.
TEST_F(RuntimeRobustness, NonFiniteUpdateSkipsThatParameterWithStateUntouched) {
  for (const Precision precision : {Precision::fp32, Precision::bf16}) {
    OptimizerConfig c = config(write_table());
    c.hyperparams.precision = precision;
    c.hyperparams.lr = 1e33f;  // finite weights stay finite (|update| ~ 1e33 < 3.4e38)
    c.hyperparams.weight_decay = 0;
    Optimizer opt(c);
    std::mt19937_64 rng(6);
    HostParam a("a", 1, 64, 64, DType::fp32), b("b", 1, 7, 300, DType::fp32);
    a.set_theta(0, Eigen::MatrixXd::Constant(64, 64, double(std::numeric_limits<float>::max())));
    b.set_theta(0, random_matrix(7, 300, rng, 0.05));
    const int64_t ia = opt.add_param(a.spec()), ib = opt.add_param(b.spec());
    const std::vector<float> momentum0(64 * 64, 0.5f);
    opt.set_momentum(ia, momentum0);
    a.set_grad(0, random_gradient(64, 64, rng));
    b.set_grad(0, random_gradient(7, 300, rng));
    const std::vector<uint8_t> theta_a = a.theta_bytes(), theta_b = b.theta_bytes();
    warnings.clear();
    opt.step();
    EXPECT_EQ(a.theta_bytes(), theta_a) << "weights of the skipped parameter changed";
    EXPECT_EQ(opt.momentum(ia), momentum0) << "momentum of the skipped parameter changed";
    EXPECT_NE(b.theta_bytes(), theta_b) << "the healthy parameter was not updated";
    EXPECT_TRUE(all_finite(opt.momentum(ib)));
    EXPECT_EQ(opt.last_report().skipped, std::vector<std::string>{"a"});
    ASSERT_EQ(warnings.size(), 1u);
    EXPECT_NE(warnings[0].find("'a' skipped"), std::string::npos) << warnings[0];
  }
}

// A batch is one parameter: when only one of its matrices gets non-finite new weights (weights at
// the fp32 maximum and a huge step overflow there), none of the batch is written, on any number
// of threads; a healthy parameter next to it is updated.
TEST_F(RuntimeRobustness, NonFiniteUpdateOfOneMatrixSkipsTheWholeBatch) {
  for (const int64_t threads : {1, 3}) {
    OptimizerConfig c = config(write_table());
    c.cpu_threads = threads;
    c.hyperparams.lr = 1e33f;  // finite weights stay finite (|update| ~ 1e33 < 3.4e38)
    c.hyperparams.weight_decay = 0;
    Optimizer opt(c);
    std::mt19937_64 rng(7);
    HostParam e("experts", 3, 33, 20, DType::fp32), h("healthy", 1, 7, 300, DType::fp32);
    for (int64_t m = 0; m < 3; ++m) e.set_theta(m, random_matrix(33, 20, rng, 0.05));
    e.set_theta(1, Eigen::MatrixXd::Constant(33, 20, double(std::numeric_limits<float>::max())));
    h.set_theta(0, random_matrix(7, 300, rng, 0.05));
    const int64_t ie = opt.add_param(e.spec());
    opt.add_param(h.spec());
    for (int64_t m = 0; m < 3; ++m) e.set_grad(m, random_gradient(33, 20, rng));
    h.set_grad(0, random_gradient(7, 300, rng));
    const std::vector<uint8_t> theta_e = e.theta_bytes(), theta_h = h.theta_bytes();
    const std::vector<float> momentum_e = opt.momentum(ie);
    warnings.clear();
    opt.step();
    EXPECT_EQ(e.theta_bytes(), theta_e) << threads << " threads";
    EXPECT_EQ(opt.momentum(ie), momentum_e) << threads << " threads";
    EXPECT_NE(h.theta_bytes(), theta_h);
    EXPECT_EQ(opt.last_report().skipped, std::vector<std::string>{"experts"});
    ASSERT_EQ(warnings.size(), 1u);
    EXPECT_NE(warnings[0].find("'experts' skipped"), std::string::npos) << warnings[0];
  }
}

TEST_F(RuntimeRobustness, ZeroGradientGivesZeroUpdateButWeightsDecay) {
  for (const ThresholdMode mode :
       {ThresholdMode::quantile, ThresholdMode::fixed, ThresholdMode::off}) {
    OptimizerConfig c = config(write_table());
    c.hyperparams.lr = 0.05f;
    c.hyperparams.weight_decay = 0.5f;
    c.hyperparams.threshold = mode;
    c.hyperparams.threshold_value = 0.1f;
    Optimizer opt(c);
    std::mt19937_64 rng(11);
    HostParam p("w", 2, 100, 257, DType::fp32);
    for (int64_t b = 0; b < 2; ++b) p.set_theta(b, random_matrix(100, 257, rng, 1.0));
    const Eigen::MatrixXd theta0 = p.theta(1);
    const int64_t id = opt.add_param(p.spec());  // gradient buffer is zero
    opt.step();
    // theta (1 - lr wd) in fp64; the step rounds theta * fp32(1 - lr wd) once: <= 1.5 ulp apart.
    const Eigen::MatrixXd expected = theta0 * (1.0 - 0.05 * 0.5);
    const Eigen::MatrixXd got = p.theta(1);
    EXPECT_GT(got.norm(), 0.0);
    for (Eigen::Index i = 0; i < got.size(); ++i) {
      ASSERT_NEAR(got.data()[i], expected.data()[i],
                  1.5 * std::ldexp(std::abs(expected.data()[i]), -23))
          << "element " << i;
    }
    for (const float m : opt.momentum(id)) ASSERT_EQ(m, 0.0f);
    EXPECT_TRUE(opt.last_report().skipped.empty());
  }
}

// A bf16 parameter is updated in fp32 and rounded to nearest even once: each element is within
// one bf16 ulp of the fp64 reference (the fp32 update error, ~1e-5 of the update, is far below
// an ulp), and the update (~10 ulp here) really happened.
TEST_F(RuntimeRobustness, Bf16ParameterMatchesReferenceWithinOneUlp) {
  OptimizerConfig c = config(write_table());
  c.hyperparams.lr = 0.5f;
  c.hyperparams.precision = Precision::fp32;
  Optimizer opt(c);
  std::mt19937_64 rng(21);
  HostParam p("w", 1, 64, 64, DType::bf16);
  p.set_theta(0, random_matrix(64, 64, rng, 1.0));
  p.set_grad(0, random_gradient(64, 64, rng));
  const int64_t id = opt.add_param(p.spec());
  ReferenceMatrix ref{p.theta(0), Eigen::MatrixXd::Zero(64, 64)};
  const Eigen::MatrixXd theta0 = p.theta(0);
  reference_step(ref, p.grad(0), c.hyperparams, opt.recipe(id).recipe.schedule);
  opt.step();
  const Eigen::MatrixXd got = p.theta(0);
  int64_t moved = 0;
  for (Eigen::Index i = 0; i < got.size(); ++i) {
    const double ulp = std::ldexp(1.0, std::ilogb(ref.theta.data()[i]) - 7);
    ASSERT_LE(std::abs(got.data()[i] - ref.theta.data()[i]), ulp) << "element " << i;
    moved += got.data()[i] != theta0.data()[i];
  }
  EXPECT_GT(moved, got.size() * 9 / 10);
}

// Same inputs, same bits: across runs, and across CPU thread counts (matrices are stepped in
// parallel, each by one thread with its own workspace). One parameter is skipped on step 2.
TEST_F(RuntimeRobustness, StepIsDeterministicForAnyThreadCount) {
  for (const Precision precision : {Precision::fp32, Precision::bf16}) {
    std::vector<std::vector<std::vector<uint8_t>>> weights;
    std::vector<std::vector<float>> momenta;
    for (const int64_t threads : {1, 1, 3, 0}) {
      OptimizerConfig c = config(write_table());
      c.hyperparams.precision = precision;
      c.cpu_threads = threads;
      Optimizer opt(c);
      std::mt19937_64 rng(31);
      std::vector<HostParam> params = {{"p", 2, 300, 7, DType::fp32},
                                       {"q", 1, 100, 257, DType::bf16},
                                       {"r", 1, 64, 64, DType::fp32},
                                       {"s", 3, 20, 33, DType::fp32}};
      for (HostParam& p : params) {
        const Eigen::MatrixXd t = p.theta(0);
        for (int64_t b = 0; b < p.batch(); ++b) {
          p.set_theta(b, random_matrix(t.rows(), t.cols(), rng, 0.1));
        }
        opt.add_param(p.spec());
      }
      for (int k = 0; k < 3; ++k) {
        for (HostParam& p : params) {
          const Eigen::MatrixXd g = p.grad(0);
          for (int64_t b = 0; b < p.batch(); ++b) {
            p.set_grad(b, random_gradient(g.rows(), g.cols(), rng));
          }
        }
        if (k == 1) params[2].set_grad_element(7, std::nanf(""));
        opt.step();
        if (k == 1) {
          EXPECT_EQ(opt.last_report().skipped, std::vector<std::string>{"r"});
        }
      }
      weights.emplace_back();
      for (const HostParam& p : params) weights.back().push_back(p.theta_bytes());
      momenta.push_back(opt.momentum(1));
    }
    for (size_t run = 1; run < weights.size(); ++run) {
      EXPECT_EQ(weights[run], weights[0]) << "run " << run;
      EXPECT_EQ(momenta[run], momenta[0]) << "run " << run;
    }
  }
}

TEST_F(RuntimeRobustness, InvalidParamSpecsThrowBeforeRegistering) {
  Optimizer opt(config(write_table()));
  HostParam p("w", 1, 64, 64, DType::fp32);
  ParamSpec s = p.spec();
  s.param = nullptr;
  expect_error([&] { opt.add_param(s); }, "add_param 'w': param pointer is null");
  s = p.spec();
  s.grad = nullptr;
  expect_error([&] { opt.add_param(s); }, "add_param 'w': grad pointer is null");
  s = p.spec();
  s.rows = 0;
  expect_error([&] { opt.add_param(s); }, "sizes must be positive");
  s = p.spec();
  s.batch = -1;
  expect_error([&] { opt.add_param(s); }, "sizes must be positive");
  s = p.spec();
  s.name = "";
  expect_error([&] { opt.add_param(s); }, "parameter name is empty");
  s = p.spec();
  s.dtype = static_cast<DType>(7);
  expect_error([&] { opt.add_param(s); }, "dtype has invalid value 7");
  s = p.spec();
  s.rows = int64_t(1) << 30;
  s.cols = int64_t(1) << 30;
  expect_error([&] { opt.add_param(s); }, "more than 2^40");
  EXPECT_EQ(opt.num_params(), 0);
  opt.add_param(p.spec());
  HostParam other("w", 1, 8, 8, DType::fp32);
  expect_error([&] { opt.add_param(other.spec()); }, "'w' is already registered");
  EXPECT_EQ(opt.num_params(), 1);
  expect_error([&] { (void)opt.param(1); }, "parameter id 1 is not registered");
  expect_error([&] { opt.set_momentum(0, std::vector<float>(3)); }, "expected 4096 values, got 3");
  std::vector<float> bad(4096, 0.0f);
  bad[17] = std::nanf("");
  expect_error([&] { opt.set_momentum(0, bad); }, "non-finite value at element 17");
}

TEST_F(RuntimeRobustness, RebindChecksShapeAndDtypeAndKeepsOldBindingOnError) {
  Optimizer opt(config(write_table()));
  std::mt19937_64 rng(41);
  HostParam p("w", 1, 64, 64, DType::fp32), moved("w", 1, 64, 64, DType::fp32);
  p.set_grad(0, random_gradient(64, 64, rng));
  const int64_t id = opt.add_param(p.spec());
  for (const auto& [field, mutate] :
       std::vector<std::pair<std::string, std::function<void(ParamSpec&)>>>{
           {"shape 1 x 64x63", [](ParamSpec& s) { s.cols = 63; }},
           {"shape 2 x 64x64", [](ParamSpec& s) { s.batch = 2; }},
           {"dtype bf16", [](ParamSpec& s) { s.dtype = DType::bf16; }},
           {"name 'x'", [](ParamSpec& s) { s.name = "x"; }},
           {"param pointer is null", [](ParamSpec& s) { s.param = nullptr; }}}) {
    ParamSpec s = moved.spec();
    mutate(s);
    expect_error([&] { opt.rebind(id, s); }, field);
  }
  expect_error([&] { opt.rebind(5, moved.spec()); }, "parameter id 5 is not registered");
  // Still bound to p: the step moves p and leaves `moved` alone.
  const std::vector<uint8_t> before = moved.theta_bytes();
  opt.step();
  EXPECT_EQ(moved.theta_bytes(), before);
  EXPECT_GT(p.theta(0).norm(), 0.0);
  // A valid rebind (empty name allowed) switches the buffers.
  moved.set_grad(0, random_gradient(64, 64, rng));
  ParamSpec s = moved.spec();
  s.name.clear();
  opt.rebind(id, s);
  const std::vector<uint8_t> p_before = p.theta_bytes();
  opt.step();
  EXPECT_NE(moved.theta_bytes(), before);
  EXPECT_EQ(p.theta_bytes(), p_before);
}

// Momentum storage: a caller's buffer is used in place (its contents are the starting momentum),
// set_momentum() writes the same thing, and a rebind with a new buffer switches to it.
TEST_F(RuntimeRobustness, CallerMomentumBuffersAndSetMomentum) {
  OptimizerConfig c = config(write_table());
  c.hyperparams.precision = Precision::fp32;
  c.hyperparams.lr = 0.05f;
  Optimizer opt(c);
  std::mt19937_64 rng(51);
  HostParam p("p", 1, 7, 300, DType::fp32), q("q", 1, 7, 300, DType::fp32);
  const Eigen::MatrixXd theta0 = random_matrix(7, 300, rng, 0.1);
  const Eigen::MatrixXd m0 = random_gradient(7, 300, rng);
  const Eigen::MatrixXd g = random_gradient(7, 300, rng);
  p.set_theta(0, theta0);
  q.set_theta(0, theta0);
  p.set_grad(0, g);
  q.set_grad(0, g);
  std::vector<float> buffer(7 * 300);
  for (int64_t i = 0; i < 7 * 300; ++i) buffer[size_t(i)] = float(m0(i / 300, i % 300));
  ParamSpec ps = p.spec();
  ps.momentum = buffer.data();
  const int64_t ip = opt.add_param(ps);
  const int64_t iq = opt.add_param(q.spec());
  opt.set_momentum(iq, buffer);
  EXPECT_EQ(opt.momentum(ip), buffer);
  const Eigen::MatrixXd start = p.theta(0);
  opt.step();
  // Both started from m0: same bits; the caller's buffer holds the new momentum.
  EXPECT_EQ(p.theta_bytes(), q.theta_bytes());
  EXPECT_EQ(opt.momentum(ip), buffer);
  EXPECT_EQ(opt.momentum(iq), buffer);
  // And both match the fp64 reference started from m0 (buffer holds m0 rounded to fp32).
  Eigen::MatrixXd m0_fp32(7, 300);
  for (int64_t i = 0; i < 7 * 300; ++i)
    m0_fp32(i / 300, i % 300) = double(float(m0(i / 300, i % 300)));
  ReferenceMatrix ref{start, m0_fp32};
  reference_step(ref, p.grad(0), c.hyperparams, opt.recipe(ip).recipe.schedule);
  EXPECT_LT((p.theta(0) - ref.theta).norm() / (ref.theta - start).norm(), 5e-5);  // fp32 NS
  // Rebind q onto a zeroed caller buffer: the next step starts q from zero momentum.
  std::vector<float> zeros(7 * 300, 0.0f);
  ParamSpec qs = q.spec();
  qs.momentum = zeros.data();
  opt.rebind(iq, qs);
  opt.step();
  EXPECT_EQ(opt.momentum(iq), zeros);             // the step wrote into the new buffer
  EXPECT_NE(opt.momentum(iq), opt.momentum(ip));  // q restarted from zero, p did not
}

TEST_F(RuntimeRobustness, InvalidHyperparametersThrowAndChangeNothing) {
  Optimizer opt(config(write_table()));
  const std::vector<std::pair<std::string, std::function<void(Hyperparams&)>>> cases = {
      {"lr = nan", [](Hyperparams& h) { h.lr = std::nanf(""); }},
      {"lr = -1", [](Hyperparams& h) { h.lr = -1; }},
      {"momentum = 1 must lie in [0, 1)", [](Hyperparams& h) { h.momentum = 1; }},
      {"weight_decay = -0.5", [](Hyperparams& h) { h.weight_decay = -0.5f; }},
      {"lr * weight_decay",
       [](Hyperparams& h) {
         h.lr = 2;
         h.weight_decay = 1;
       }},
      {"threshold_quantile = 0 must lie in (0, 1]",
       [](Hyperparams& h) { h.threshold_quantile = 0; }},
      {"threshold_quantile = 1.5", [](Hyperparams& h) { h.threshold_quantile = 1.5f; }},
      {"threshold_value = 0",
       [](Hyperparams& h) {
         h.threshold = ThresholdMode::fixed;
         h.threshold_value = 0;
       }},
      {"threshold has invalid value 9",
       [](Hyperparams& h) { h.threshold = static_cast<ThresholdMode>(9); }},
      {"precision must be bf16 or fp32", [](Hyperparams& h) { h.precision = Precision::fp64; }},
      {"scale has invalid value 4", [](Hyperparams& h) { h.scale = static_cast<ScaleMode>(4); }},
  };
  for (const auto& [fragment, mutate] : cases) {
    Hyperparams h;
    mutate(h);
    expect_error([&] { opt.set_hyperparams(h); }, fragment);
    OptimizerConfig c = config(write_table());
    c.hyperparams = h;
    expect_error([&] { Optimizer bad(c); }, fragment);
  }
  EXPECT_EQ(opt.hyperparams().lr, Hyperparams{}.lr);
  EXPECT_EQ(opt.hyperparams().precision, Hyperparams{}.precision);
}

TEST_F(RuntimeRobustness, BadTableAndDeviceAreClearErrors) {
  expect_error([&] { Optimizer opt(config(path("missing.h5"))); }, "missing.h5");
  {
    std::ofstream garbage(path("garbage.h5"));
    garbage << "not an HDF5 file";
  }
  expect_error([&] { Optimizer opt(config(path("garbage.h5"))); }, "garbage.h5");
  OptimizerConfig c = config("");
  c.fallback.kind = FallbackPolicy::Kind::error;
  expect_error([&] { Optimizer opt(c); }, "no coefficient table given");
  OptimizerConfig threads = config(write_table());
  threads.cpu_threads = -2;
  expect_error([&] { Optimizer opt(threads); }, "cpu_threads = -2 must be >= 0");
  if (!Optimizer::cuda_available()) {
    OptimizerConfig cuda = config(write_table());
    cuda.device = Device::cuda;
    expect_error([&] { Optimizer opt(cuda); }, "CUDA");
  }
}

}  // namespace
}  // namespace rootopt::testing
