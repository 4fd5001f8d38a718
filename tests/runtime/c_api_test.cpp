// The C ABI (librootopt_c.so): same results as the C++ API bit for bit, status codes and
// thread-local messages instead of exceptions, warnings through the callback, skipped names,
// state round trip.
#include "rootopt/rootopt_c.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <string>
#include <thread>

#include "runtime_test_support.h"

extern "C" int rootopt_test_step_from_c(const char* table_path, float* weights, const float* grads);

namespace rootopt::testing {
namespace {

using RuntimeCApi = RuntimeTest;

void collect(const char* message, void* user_data) {
  static_cast<std::vector<std::string>*>(user_data)->push_back(message);
}

rootopt_param c_param(HostParam& p, const char* name) {
  const ParamSpec s = p.spec();
  rootopt_param out;
  EXPECT_EQ(rootopt_param_defaults(&out, sizeof out), ROOTOPT_OK);
  out.name = name;
  out.batch = s.batch;
  out.rows = s.rows;
  out.cols = s.cols;
  out.dtype = s.dtype == DType::fp32 ? ROOTOPT_FP32 : ROOTOPT_BF16;
  out.param = s.param;
  out.grad = s.grad;
  return out;
}

TEST_F(RuntimeCApi, RoundTripMatchesCppApiBitForBit) {
  const std::string table = write_table();
  std::vector<std::string> c_warnings;
  rootopt_config config;
  ASSERT_EQ(rootopt_config_defaults(&config, sizeof config), ROOTOPT_OK);
  rootopt_hyperparams hyperparams;
  ASSERT_EQ(rootopt_hyperparams_defaults(&hyperparams, sizeof hyperparams), ROOTOPT_OK);
  config.table_path = table.c_str();
  config.warn = collect;
  config.warn_user_data = &c_warnings;
  hyperparams.lr = 0.02f;
  hyperparams.precision = ROOTOPT_PRECISION_FP32;
  config.hyperparams = &hyperparams;
  EXPECT_EQ(config.cpu_threads, 1);
  config.cpu_threads = 2;  // bit-identical to the single-threaded C++ optimizer below
  rootopt_optimizer* opt = nullptr;
  ASSERT_EQ(rootopt_create(&config, &opt), ROOTOPT_OK) << rootopt_last_error();

  OptimizerConfig cpp_config = this->config(table);
  cpp_config.hyperparams.lr = 0.02f;
  cpp_config.hyperparams.precision = Precision::fp32;
  Optimizer cpp(cpp_config);

  std::mt19937_64 rng(3);
  HostParam a("a", 1, 64, 64, DType::fp32), b("b", 1, 33, 20, DType::bf16);
  a.set_theta(0, random_matrix(64, 64, rng, 0.1));
  b.set_theta(0, random_matrix(33, 20, rng, 0.1));
  HostParam a2 = a, b2 = b;
  const std::vector<uint8_t> a_initial = a.theta_bytes();
  int64_t id = -1;
  rootopt_param pa = c_param(a, "a"), pb = c_param(b, "b");
  ASSERT_EQ(rootopt_add_param(opt, &pa, &id), ROOTOPT_OK) << rootopt_last_error();
  EXPECT_EQ(id, 0);
  ASSERT_EQ(rootopt_add_param(opt, &pb, &id), ROOTOPT_OK) << rootopt_last_error();
  EXPECT_EQ(id, 1);
  cpp.add_param(a2.spec());
  cpp.add_param(b2.spec());
  EXPECT_EQ(c_warnings.size(), 1u);  // 33x20 is not in the table
  int64_t count = 0;
  ASSERT_EQ(rootopt_num_params(opt, &count), ROOTOPT_OK);
  EXPECT_EQ(count, 2);

  for (int k = 0; k < 3; ++k) {
    a.set_grad(0, random_gradient(64, 64, rng));
    b.set_grad(0, random_gradient(33, 20, rng));
    a2.set_grad(0, a.grad(0));
    b2.set_grad(0, b.grad(0));
    if (k == 1) {  // a scheduler step through both APIs
      rootopt_hyperparams h;
      h.struct_size = sizeof h;
      ASSERT_EQ(rootopt_get_hyperparams(opt, &h), ROOTOPT_OK);
      h.lr = 0.01f;
      h.threshold = ROOTOPT_THRESHOLD_OFF;
      h.scale = ROOTOPT_SCALE_SPECTRAL;
      ASSERT_EQ(rootopt_set_hyperparams(opt, &h), ROOTOPT_OK) << rootopt_last_error();
      Hyperparams hc = cpp.hyperparams();
      hc.lr = 0.01f;
      hc.threshold = ThresholdMode::off;
      hc.scale = ScaleMode::spectral;
      cpp.set_hyperparams(hc);
    }
    ASSERT_EQ(rootopt_step(opt, nullptr), ROOTOPT_OK) << rootopt_last_error();
    cpp.step();
  }
  EXPECT_EQ(a.theta_bytes(), a2.theta_bytes());
  EXPECT_EQ(b.theta_bytes(), b2.theta_bytes());
  EXPECT_NE(a.theta_bytes(), a_initial);  // the C ABI really moved the weights
  int64_t steps = 0;
  ASSERT_EQ(rootopt_step_count(opt, &steps), ROOTOPT_OK);
  EXPECT_EQ(steps, 3);

  // A NaN gradient: reported by name.
  b.set_grad_element(5, std::nanf(""));
  ASSERT_EQ(rootopt_step(opt, nullptr), ROOTOPT_OK);
  ASSERT_EQ(rootopt_last_skipped_count(opt, &count), ROOTOPT_OK);
  ASSERT_EQ(count, 1);
  const char* name = nullptr;
  ASSERT_EQ(rootopt_last_skipped_name(opt, 0, &name), ROOTOPT_OK);
  EXPECT_STREQ(name, "b");
  EXPECT_EQ(rootopt_last_skipped_name(opt, 1, &name), ROOTOPT_ERROR);
  EXPECT_EQ(c_warnings.size(), 2u);

  // State round trip through a second handle.
  const std::string state = path("state.h5");
  ASSERT_EQ(rootopt_save_state(opt, state.c_str()), ROOTOPT_OK) << rootopt_last_error();
  rootopt_optimizer* other = nullptr;
  ASSERT_EQ(rootopt_create(&config, &other), ROOTOPT_OK);
  ASSERT_EQ(rootopt_add_param(other, &pa, nullptr), ROOTOPT_OK);
  ASSERT_EQ(rootopt_add_param(other, &pb, nullptr), ROOTOPT_OK);
  ASSERT_EQ(rootopt_load_state(other, state.c_str()), ROOTOPT_OK) << rootopt_last_error();
  ASSERT_EQ(rootopt_step_count(other, &steps), ROOTOPT_OK);
  EXPECT_EQ(steps, 4);
  EXPECT_EQ(rootopt_destroy(other), ROOTOPT_OK);
  EXPECT_EQ(rootopt_destroy(opt), ROOTOPT_OK);
  EXPECT_EQ(rootopt_destroy(nullptr), ROOTOPT_OK);
}

// Called from C: the weights move, and only by a finite amount.
TEST_F(RuntimeCApi, UsableFromC) {
  std::vector<float> weights(12, 1.0f), grads(12);
  for (size_t i = 0; i < grads.size(); ++i) grads[i] = float(i % 5) - 2.0f;
  ASSERT_EQ(rootopt_test_step_from_c(write_table().c_str(), weights.data(), grads.data()),
            ROOTOPT_OK)
      << rootopt_last_error();
  for (const float w : weights) {
    EXPECT_TRUE(std::isfinite(w));
    EXPECT_NE(w, 1.0f);
  }
}

TEST_F(RuntimeCApi, ErrorsAreStatusCodesWithThreadLocalMessages) {
  rootopt_optimizer* opt = reinterpret_cast<rootopt_optimizer*>(0x1);
  EXPECT_EQ(rootopt_create(nullptr, &opt), ROOTOPT_ERROR_INVALID_ARGUMENT);
  EXPECT_NE(std::string(rootopt_last_error()).find("config is NULL"), std::string::npos);

  rootopt_config config;
  rootopt_config_defaults(&config, sizeof config);
  const std::string missing = path("missing_table.h5");
  config.table_path = missing.c_str();
  EXPECT_EQ(rootopt_create(&config, &opt), ROOTOPT_ERROR);
  EXPECT_EQ(opt, nullptr);
  const std::string message = rootopt_last_error();
  EXPECT_NE(message.find("missing_table.h5"), std::string::npos) << message;

  // Another thread's error does not overwrite this thread's message.
  std::thread([] {
    EXPECT_EQ(rootopt_step(nullptr, nullptr), ROOTOPT_ERROR_INVALID_ARGUMENT);
    EXPECT_NE(std::string(rootopt_last_error()).find("optimizer is NULL"), std::string::npos);
  }).join();
  EXPECT_EQ(rootopt_last_error(), message);

  const std::string table = write_table();
  config.table_path = table.c_str();
  config.fallback = 17;
  EXPECT_EQ(rootopt_create(&config, &opt), ROOTOPT_ERROR);
  EXPECT_NE(std::string(rootopt_last_error()).find("fallback has invalid value 17"),
            std::string::npos);
  config.fallback = ROOTOPT_FALLBACK_NEAREST;
  rootopt_hyperparams bad;
  rootopt_hyperparams_defaults(&bad, sizeof bad);
  bad.momentum = 1.5f;
  config.hyperparams = &bad;
  EXPECT_EQ(rootopt_create(&config, &opt), ROOTOPT_ERROR);
  EXPECT_NE(std::string(rootopt_last_error()).find("momentum = 1.5"), std::string::npos);
  rootopt_config_defaults(&config, sizeof config);
  config.table_path = table.c_str();
  ASSERT_EQ(rootopt_create(&config, &opt), ROOTOPT_OK);

  HostParam p("w", 1, 8, 8, DType::fp32);
  rootopt_param cp = c_param(p, "w");
  cp.grad = nullptr;
  EXPECT_EQ(rootopt_add_param(opt, &cp, nullptr), ROOTOPT_ERROR);
  EXPECT_NE(std::string(rootopt_last_error()).find("grad pointer is null"), std::string::npos);
  cp = c_param(p, nullptr);
  EXPECT_EQ(rootopt_add_param(opt, &cp, nullptr), ROOTOPT_ERROR);
  EXPECT_NE(std::string(rootopt_last_error()).find("name is empty"), std::string::npos);
  cp = c_param(p, "w");
  ASSERT_EQ(rootopt_add_param(opt, &cp, nullptr), ROOTOPT_OK);
  EXPECT_STREQ(rootopt_last_error(), "");
  cp.rows = 4;
  EXPECT_EQ(rootopt_rebind(opt, 0, &cp), ROOTOPT_ERROR);
  EXPECT_NE(std::string(rootopt_last_error()).find("differs from the registered"),
            std::string::npos);
  EXPECT_EQ(rootopt_rebind(opt, 0, nullptr), ROOTOPT_ERROR_INVALID_ARGUMENT);
  rootopt_hyperparams h;
  rootopt_hyperparams_defaults(&h, sizeof h);
  h.precision = 0;  // fp64: not a runtime precision
  EXPECT_EQ(rootopt_set_hyperparams(opt, &h), ROOTOPT_ERROR);
  EXPECT_EQ(rootopt_load_state(opt, path("nothing.h5").c_str()), ROOTOPT_ERROR);
  EXPECT_EQ(rootopt_save_state(opt, nullptr), ROOTOPT_ERROR_INVALID_ARGUMENT);
  EXPECT_EQ(rootopt_destroy(opt), ROOTOPT_OK);
  EXPECT_EQ(rootopt_cuda_available(), Optimizer::cuda_available() ? 1 : 0);
}

// Every struct carries the size of the header it was compiled with: too small (never filled by a
// *_defaults function) or larger than the library's (a newer header) is refused with a message,
// and nothing is created.
TEST_F(RuntimeCApi, StructSizesAreChecked) {
  rootopt_config config;
  ASSERT_EQ(rootopt_config_defaults(&config, sizeof config), ROOTOPT_OK);
  EXPECT_EQ(config.struct_size, sizeof config);
  EXPECT_EQ(config.hyperparams, nullptr);
  EXPECT_EQ(config.fallback_steps, 5);
  EXPECT_EQ(config.fallback_normalization, ROOTOPT_NORMALIZATION_FROBENIUS);
  rootopt_optimizer* opt = nullptr;
  const auto refused = [&](const char* what) {
    EXPECT_EQ(rootopt_create(&config, &opt), ROOTOPT_ERROR);
    EXPECT_EQ(opt, nullptr);
    EXPECT_NE(std::string(rootopt_last_error()).find(what), std::string::npos)
        << rootopt_last_error();
  };
  config.struct_size = 0;
  refused("rootopt_config.struct_size = 0 is smaller than any version");
  config.struct_size = sizeof config + 8;
  refused("built against a newer rootopt_c.h");
  config.struct_size = sizeof config;
  rootopt_hyperparams hyperparams{};  // zeroed by hand, not by rootopt_hyperparams_defaults
  config.hyperparams = &hyperparams;
  refused("rootopt_hyperparams.struct_size = 0");
  // The defaults function writes only the bytes the caller says it has.
  rootopt_param param;
  std::memset(&param, 0xab, sizeof param);
  EXPECT_EQ(rootopt_param_defaults(&param, 2), ROOTOPT_ERROR);
  EXPECT_EQ(rootopt_hyperparams_defaults(&hyperparams, sizeof hyperparams + 4), ROOTOPT_ERROR);
  EXPECT_EQ(hyperparams.struct_size, 0u);  // refused: nothing written

  ASSERT_EQ(rootopt_hyperparams_defaults(&hyperparams, sizeof hyperparams), ROOTOPT_OK);
  config.fallback_normalization = 9;
  refused("fallback_normalization has invalid value 9");
  config.fallback_normalization = ROOTOPT_NORMALIZATION_FROBENIUS;
  config.fallback_steps = 0;
  config.fallback = ROOTOPT_FALLBACK_NAMED;
  refused("step count must be positive, got 0");
  config.fallback_steps = 5;
  ASSERT_EQ(rootopt_create(&config, &opt), ROOTOPT_OK) << rootopt_last_error();
  HostParam p("w", 1, 8, 8, DType::fp32);
  param = c_param(p, "w");
  param.struct_size = 0;
  EXPECT_EQ(rootopt_add_param(opt, &param, nullptr), ROOTOPT_ERROR);
  EXPECT_NE(std::string(rootopt_last_error()).find("rootopt_param.struct_size = 0"),
            std::string::npos);
  int64_t count = -1;
  ASSERT_EQ(rootopt_num_params(opt, &count), ROOTOPT_OK);
  EXPECT_EQ(count, 0);
  rootopt_hyperparams out;
  out.struct_size = 3;
  EXPECT_EQ(rootopt_get_hyperparams(opt, &out), ROOTOPT_ERROR);
  EXPECT_EQ(rootopt_destroy(opt), ROOTOPT_OK);
}

// A NaN already in the caller's momentum buffer (bound with rebind) blocks the parameter: the
// warning must say so, not blame a gradient that is finite.
TEST_F(RuntimeCApi, SkipWarningNamesTheBufferHoldingNaN) {
  const std::string table = write_table();
  std::vector<std::string> warnings;
  rootopt_config config;
  rootopt_config_defaults(&config, sizeof config);
  config.table_path = table.c_str();
  config.warn = collect;
  config.warn_user_data = &warnings;
  rootopt_optimizer* opt = nullptr;
  ASSERT_EQ(rootopt_create(&config, &opt), ROOTOPT_OK) << rootopt_last_error();
  std::mt19937_64 rng(5);
  HostParam p("w", 1, 64, 64, DType::fp32);
  p.set_theta(0, random_matrix(64, 64, rng, 0.1));
  p.set_grad(0, random_gradient(64, 64, rng));
  rootopt_param cp = c_param(p, "w");
  ASSERT_EQ(rootopt_add_param(opt, &cp, nullptr), ROOTOPT_OK) << rootopt_last_error();
  std::vector<float> momentum(64 * 64, 0.0f);
  momentum[7] = std::nanf("");
  cp.momentum = momentum.data();
  ASSERT_EQ(rootopt_rebind(opt, 0, &cp), ROOTOPT_OK) << rootopt_last_error();
  ASSERT_EQ(rootopt_step(opt, nullptr), ROOTOPT_OK);
  ASSERT_EQ(warnings.size(), 1u);
  EXPECT_NE(warnings[0].find("'w' skipped: its momentum holds NaN or Inf"), std::string::npos)
      << warnings[0];
  momentum[7] = 0.0f;  // a finite momentum and a NaN gradient: the gradient is named
  p.set_grad_element(3, std::nanf(""));
  ASSERT_EQ(rootopt_step(opt, nullptr), ROOTOPT_OK);
  ASSERT_EQ(warnings.size(), 2u);
  EXPECT_NE(warnings[1].find("'w' skipped: its gradient holds NaN or Inf"), std::string::npos)
      << warnings[1];
  EXPECT_EQ(rootopt_destroy(opt), ROOTOPT_OK);
}

// A value a check refuses is printed as exactly the float it saw: the float after 1 is not "1".
TEST_F(RuntimeCApi, RefusedValuesArePrintedExactly) {
  rootopt_config config;
  rootopt_config_defaults(&config, sizeof config);
  rootopt_hyperparams hyperparams;
  rootopt_hyperparams_defaults(&hyperparams, sizeof hyperparams);
  hyperparams.threshold_quantile = std::nextafter(1.0f, 2.0f);
  config.hyperparams = &hyperparams;
  rootopt_optimizer* opt = nullptr;
  EXPECT_EQ(rootopt_create(&config, &opt), ROOTOPT_ERROR);
  EXPECT_NE(std::string(rootopt_last_error()).find("threshold_quantile = 1.0000001 must lie in"),
            std::string::npos)
      << rootopt_last_error();
}

}  // namespace
}  // namespace rootopt::testing
