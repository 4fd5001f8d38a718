// State files: save/restore continues bit-identically; a file that does not fit (names, shapes,
// count), is damaged, or holds non-finite momentum is rejected with a clear error and nothing
// changes; writes are atomic.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>

#include "h5.h"
#include "rootopt/error.h"
#include "runtime_test_support.h"

namespace rootopt::testing {
namespace {

class RuntimeState : public RuntimeTest {
 protected:
  // Two parameters (a batch of tall matrices in fp32, a wide bf16 one) with random weights.
  struct Model {
    HostParam a{"layers.0.w", 2, 300, 7, DType::fp32};
    HostParam b{"layers.1.w", 1, 100, 257, DType::bf16};
  };
  void init(Model& m, uint64_t seed) {
    std::mt19937_64 rng(seed);
    for (int64_t i = 0; i < 2; ++i) m.a.set_theta(i, random_matrix(300, 7, rng, 0.1));
    m.b.set_theta(0, random_matrix(100, 257, rng, 0.1));
  }
  void register_all(Optimizer& opt, Model& m) {
    opt.add_param(m.a.spec());
    opt.add_param(m.b.spec());
  }
  void step(Optimizer& opt, Model& m, std::mt19937_64& rng) {
    for (int64_t i = 0; i < 2; ++i) m.a.set_grad(i, random_gradient(300, 7, rng));
    m.b.set_grad(0, random_gradient(100, 257, rng));
    opt.step();
  }
  template <typename Call>
  void expect_load_error(Optimizer& opt, Call&& load, const std::string& fragment) {
    const std::vector<float> m0 = opt.momentum(0), m1 = opt.momentum(1);
    const int64_t steps = opt.last_report().step;
    try {
      load();
      ADD_FAILURE() << "no error; expected one mentioning '" << fragment << "'";
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find(fragment), std::string::npos) << e.what();
    }
    EXPECT_EQ(opt.momentum(0), m0);
    EXPECT_EQ(opt.momentum(1), m1);
    EXPECT_EQ(opt.last_report().step, steps);
  }
};

TEST_F(RuntimeState, SaveRestoreContinuesBitIdentically) {
  const std::string table = write_table();
  Model original, restored;
  init(original, 1);
  Optimizer first(config(table));
  register_all(first, original);
  std::mt19937_64 rng(2);
  for (int k = 0; k < 3; ++k) step(first, original, rng);
  first.save_state(path("state.h5"));
  restored = original;  // weights at step 3 (the framework's own checkpoint)
  const std::mt19937_64 rng_at_save = rng;
  for (int k = 0; k < 3; ++k) step(first, original, rng);

  Optimizer second(config(table));
  register_all(second, restored);
  second.load_state(path("state.h5"));
  EXPECT_EQ(second.last_report().step, 3);
  std::mt19937_64 rng2 = rng_at_save;
  for (int k = 0; k < 3; ++k) step(second, restored, rng2);
  EXPECT_EQ(restored.a.theta_bytes(), original.a.theta_bytes());
  EXPECT_EQ(restored.b.theta_bytes(), original.b.theta_bytes());
  EXPECT_EQ(second.momentum(0), first.momentum(0));
  EXPECT_EQ(second.momentum(1), first.momentum(1));
  EXPECT_EQ(second.last_report().step, 6);
  const std::vector<float> momentum = second.momentum(1);
  EXPECT_TRUE(std::any_of(momentum.begin(), momentum.end(), [](float v) { return v != 0; }));
}

TEST_F(RuntimeState, MismatchedOrDamagedFilesAreRejectedAndChangeNothing) {
  const std::string table = write_table();
  Model m;
  init(m, 3);
  Optimizer opt(config(table));
  register_all(opt, m);
  std::mt19937_64 rng(4);
  step(opt, m, rng);

  expect_load_error(
      opt, [&] { opt.load_state(path("missing.h5")); }, "missing.h5");
  {
    std::ofstream garbage(path("garbage.h5"));
    garbage << "garbage";
  }
  expect_load_error(
      opt, [&] { opt.load_state(path("garbage.h5")); }, "garbage.h5");
  expect_load_error(
      opt, [&] { opt.load_state(table); }, "not an optimizer state file");

  // Truncated copy of a valid state file.
  opt.save_state(path("good.h5"));
  const auto size = std::filesystem::file_size(path("good.h5"));
  std::filesystem::copy_file(path("good.h5"), path("truncated.h5"));
  std::filesystem::resize_file(path("truncated.h5"), size / 2);
  expect_load_error(
      opt, [&] { opt.load_state(path("truncated.h5")); }, "truncated.h5");

  // Other registrations: a missing name, another shape, another count.
  const auto save_from = [&](std::vector<HostParam*> params, const std::string& file) {
    Optimizer other(config(table));
    for (HostParam* p : params) other.add_param(p->spec());
    other.save_state(path(file));
  };
  HostParam renamed("layers.0.other", 2, 300, 7, DType::fp32);
  save_from({&renamed, &m.b}, "renamed.h5");
  expect_load_error(
      opt, [&] { opt.load_state(path("renamed.h5")); },
      "'layers.0.other' of the state file is not registered");
  HostParam reshaped("layers.0.w", 1, 300, 7, DType::fp32);
  save_from({&reshaped, &m.b}, "reshaped.h5");
  expect_load_error(
      opt, [&] { opt.load_state(path("reshaped.h5")); },
      "has shape 1 x 300x7 in the state file, 2 x 300x7 here");
  save_from({&m.a}, "fewer.h5");
  expect_load_error(
      opt, [&] { opt.load_state(path("fewer.h5")); }, "holds 1 parameters, this optimizer has 2");

  // A well-formed file whose momentum holds a NaN, and one with a negative step count.
  const auto write_state = [&](const std::string& file, int64_t steps, float poison) {
    h5::Id f = h5::create_file(file);
    h5::write_attribute(f, "format", std::string("rootopt.optimizer_state"));
    h5::write_attribute(f, "format_version", int64_t(1));
    h5::write_attribute(f, "step", steps);
    h5::write_attribute(f, "params", int64_t(2));
    std::vector<float> a(2 * 300 * 7, 0.5f), b(100 * 257, 0.5f);
    b[123] = poison;
    h5::write_floats(f, "momentum/0", {2, 300, 7}, a.data());
    h5::write_attribute(h5::open_dataset(f, "momentum/0", file), "name", std::string("layers.0.w"));
    h5::write_floats(f, "momentum/1", {1, 100, 257}, b.data());
    h5::write_attribute(h5::open_dataset(f, "momentum/1", file), "name", std::string("layers.1.w"));
  };
  write_state(path("nan.h5"), 5, std::nanf(""));
  expect_load_error(
      opt, [&] { opt.load_state(path("nan.h5")); },
      "('layers.1.w') holds a non-finite value at element 123");
  write_state(path("negative.h5"), -1, 0.5f);
  expect_load_error(
      opt, [&] { opt.load_state(path("negative.h5")); }, "step count -1");
  // The hand-written file itself is valid: with a finite value it loads. The report of the
  // step before (one parameter skipped) does not survive the load.
  m.a.set_grad_element(0, std::nanf(""));
  opt.step();
  EXPECT_EQ(opt.last_report().skipped, std::vector<std::string>{"layers.0.w"});
  write_state(path("valid.h5"), 5, 0.25f);
  opt.load_state(path("valid.h5"));
  EXPECT_TRUE(opt.last_report().skipped.empty());
  EXPECT_EQ(opt.last_report().step, 5);
  EXPECT_EQ(opt.momentum(1)[123], 0.25f);
  EXPECT_EQ(opt.momentum(0)[0], 0.5f);
}

TEST_F(RuntimeState, SaveIsAtomicAndReplacesTheOldFile) {
  Model m;
  init(m, 5);
  Optimizer opt(config(write_table()));
  register_all(opt, m);
  EXPECT_THROW(opt.save_state(path("no/such/dir/state.h5")), Error);
  EXPECT_FALSE(std::filesystem::exists(path("no/such/dir")));
  opt.save_state(path("state.h5"));
  std::mt19937_64 rng(6);
  step(opt, m, rng);
  opt.save_state(path("state.h5"));
  for (const auto& entry : std::filesystem::directory_iterator(path(""))) {
    EXPECT_EQ(entry.path().string().find(".tmp."), std::string::npos) << entry.path();
  }
  Optimizer other(config(write_table()));
  register_all(other, m);
  other.load_state(path("state.h5"));
  EXPECT_EQ(other.momentum(1), opt.momentum(1));
  EXPECT_EQ(other.last_report().step, 1);
}

}  // namespace
}  // namespace rootopt::testing
