// State files: save/restore continues bit-identically; a file that does not fit (names, shapes,
// count), is damaged, or holds non-finite momentum is rejected with a clear error and nothing
// changes; writes are atomic.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <functional>

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
      opt, [&] { opt.load_state(table); }, "not a rootopt optimizer state file");

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
    h5::write_attribute(f, "format_version", int64_t(2));
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

// Momentum that does not fit the parameter (dtype, rank, extents) is refused with the parameter
// named, before anything is read or changed; a file declaring huge extents is refused from its
// extents alone.
TEST_F(RuntimeState, MomentumOfTheWrongKindIsRefusedBeforeReading) {
  const std::string table = write_table();
  Model m;
  init(m, 7);
  Optimizer opt(config(table));
  register_all(opt, m);
  std::mt19937_64 rng(8);
  step(opt, m, rng);
  // A valid file of this optimizer, with /momentum/1 replaced by `write`.
  const auto with_second = [&](const std::string& file, const std::function<void(hid_t)>& write) {
    opt.save_state(file);
    h5::Id f(H5Fopen(file.c_str(), H5F_ACC_RDWR, H5P_DEFAULT), H5Fclose);
    ASSERT_GE(H5Ldelete(f, "momentum/1", H5P_DEFAULT), 0);
    write(f);
    h5::write_attribute(h5::open_dataset(f, "momentum/1", file), "name", std::string("layers.1.w"));
  };
  with_second(path("f64.h5"), [](hid_t f) {
    const std::vector<double> values(100 * 257, 0.5);
    h5::write_doubles(f, "momentum/1", {1, 100, 257}, values.data());
  });
  expect_load_error(
      opt, [&] { opt.load_state(path("f64.h5")); }, "'layers.1.w' (/momentum/1) is not float32");
  with_second(path("rank.h5"), [](hid_t f) {
    const std::vector<float> values(100 * 257, 0.5f);
    h5::write_floats(f, "momentum/1", {100, 257}, values.data());
  });
  expect_load_error(
      opt, [&] { opt.load_state(path("rank.h5")); },
      "'layers.1.w' has shape of rank 2 in the state file, 1 x 100x257 here");
  with_second(path("huge.h5"), [](hid_t f) {
    // 1e18 declared elements, never written: reading it would be the denial of service.
    const hsize_t extents[3] = {1000000, 1000000, 1000000}, chunk[3] = {1, 1, 1024};
    h5::Id space(H5Screate_simple(3, extents, nullptr), H5Sclose);
    h5::Id props(H5Pcreate(H5P_DATASET_CREATE), H5Pclose);
    H5Pset_chunk(props, 3, chunk);
    h5::Id set(H5Dcreate2(f, "momentum/1", H5T_IEEE_F32LE, space, H5P_DEFAULT, props, H5P_DEFAULT),
               H5Dclose);
    ASSERT_GE(set.get(), 0);
  });
  expect_load_error(
      opt, [&] { opt.load_state(path("huge.h5")); },
      "'layers.1.w' has shape 1000000 x 1000000x1000000 in the state file, 1 x 100x257 here");
}

// State files written before format version 2 (variable-length names, no checksums) still load,
// through the bounds-checked legacy reader.
TEST_F(RuntimeState, VersionOneStateFilesLoad) {
  const std::string table = write_table();
  Model m;
  init(m, 9);
  Optimizer opt(config(table));
  register_all(opt, m);
  std::vector<float> a(2 * 300 * 7), b(100 * 257);
  for (size_t i = 0; i < a.size(); ++i) a[i] = float(i) * 1e-3f;
  for (size_t i = 0; i < b.size(); ++i) b[i] = -float(i) * 1e-4f;
  {
    h5::Id f(H5Fcreate(path("v1.h5").c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT), H5Fclose);
    const auto text = [](hid_t obj, const char* name, const char* value) {
      h5::Id type(H5Tcopy(H5T_C_S1), H5Tclose);
      H5Tset_size(type, H5T_VARIABLE);
      H5Tset_cset(type, H5T_CSET_UTF8);
      h5::Id space(H5Screate(H5S_SCALAR), H5Sclose);
      h5::Id attr(H5Acreate2(obj, name, type, space, H5P_DEFAULT, H5P_DEFAULT), H5Aclose);
      H5Awrite(attr, type, &value);
    };
    const auto number = [](hid_t obj, const char* name, int64_t value) {
      h5::Id space(H5Screate(H5S_SCALAR), H5Sclose);
      h5::Id attr(H5Acreate2(obj, name, H5T_STD_I64LE, space, H5P_DEFAULT, H5P_DEFAULT), H5Aclose);
      H5Awrite(attr, H5T_NATIVE_INT64, &value);
    };
    text(f, "format", "rootopt.optimizer_state");
    number(f, "format_version", 1);
    number(f, "step", 12);
    number(f, "params", 2);
    h5::Id group(H5Gcreate2(f, "momentum", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT), H5Gclose);
    const auto momentum = [&](const char* name, std::vector<hsize_t> extents,
                              const std::vector<float>& values, const char* param) {
      h5::Id space(H5Screate_simple(3, extents.data(), nullptr), H5Sclose);
      h5::Id set(H5Dcreate2(f, name, H5T_IEEE_F32LE, space, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT),
                 H5Dclose);
      H5Dwrite(set, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, values.data());
      text(set, "name", param);
    };
    momentum("momentum/0", {2, 300, 7}, a, "layers.0.w");
    momentum("momentum/1", {1, 100, 257}, b, "layers.1.w");
  }
  opt.load_state(path("v1.h5"));
  EXPECT_EQ(opt.last_report().step, 12);
  EXPECT_EQ(opt.momentum(0), a);
  EXPECT_EQ(opt.momentum(1), b);
  // Saving writes version 2 (checksummed), which loads back identically.
  opt.save_state(path("v2.h5"));
  h5::Id f(H5Fopen(path("v2.h5").c_str(), H5F_ACC_RDONLY, H5P_DEFAULT), H5Fclose);
  int64_t version = 0;
  h5::Id attr(H5Aopen(f, "format_version", H5P_DEFAULT), H5Aclose);
  H5Aread(attr, H5T_NATIVE_INT64, &version);
  EXPECT_EQ(version, 2);
  Optimizer other(config(table));
  register_all(other, m);
  other.load_state(path("v2.h5"));
  EXPECT_EQ(other.momentum(1), b);
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
