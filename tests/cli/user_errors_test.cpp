// The `rootopt` command on hostile input, as a user or a script would hit it: every case exits
// with a clean failure (status 1..127, not a crash or a hang), says what is wrong and where, and
// is plain: no source location, no C++ library text, and bounded in size whatever the input.
// Issue 12's probe found each of these crashing, hanging, exhausting memory or answering in C++.
#include <gtest/gtest.h>
#include <hdf5.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <regex>
#include <sstream>
#include <string>
#include <vector>

namespace {

namespace fs = std::filesystem;
using Args = std::vector<std::string>;

// Text that only a crash, an internal check, a sanitizer or an untranslated C++ exception puts in
// a message (the same pattern as in tests/cli/expect.cmake and tests/core/expect_clean_failure.sh).
const std::regex kNotPlain(
    R"(\.(cpp|hpp|cu|h):[0-9]|internal error|std::|basic_filebuf|filesystem error|)"
    R"(json\.exception|bad_alloc|what\(\):|terminate called|Segmentation|HDF5-DIAG|Sanitizer|)"
    R"(runtime error:)");

std::string quoted(const std::string& arg) {
  std::string out = "'";
  for (char c : arg) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return out + "'";
}

std::string read_file(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

class UserErrors : public ::testing::Test {
 protected:
  struct Outcome {
    int status = -1;  // exit status; -1 when killed by a signal
    std::string out, err;
  };

  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("rootopt_user_errors_" + std::to_string(::getpid()));
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }

  std::string path(const std::string& name) const { return (dir_ / name).string(); }
  std::string write(const std::string& name, const std::string& text) const {
    std::ofstream(path(name), std::ios::binary) << text;
    return path(name);
  }

  // Runs `rootopt args...`; a hang ends after 120 s (status 124 from timeout(1)).
  Outcome run(const std::vector<std::string>& args) const {
    std::string command = "timeout 120 " + quoted(ROOTOPT_CLI);
    for (const std::string& arg : args) command += " " + quoted(arg);
    command += " > " + quoted(path("stdout.txt")) + " 2> " + quoted(path("stderr.txt"));
    const int raw = std::system(command.c_str());
    Outcome o;
    o.status = WIFEXITED(raw) ? WEXITSTATUS(raw) : -1;
    o.out = read_file(path("stdout.txt"));
    o.err = read_file(path("stderr.txt"));
    return o;
  }

  void expect_plain_failure(const std::vector<std::string>& args, const std::string& needle) {
    std::string shown;
    for (const std::string& arg : args) shown += " " + arg.substr(0, 80);
    const Outcome o = run(args);
    const std::string err = o.err.substr(0, 2000);
    EXPECT_GE(o.status, 1) << shown << "\nstderr: " << err;
    EXPECT_LT(o.status, 128) << shown << " crashed\nstderr: " << err;
    EXPECT_NE(o.status, 124) << shown << " hung (killed after 120 s)";
    EXPECT_NE(o.err.find(needle), std::string::npos) << shown << "\nstderr: " << err;
    EXPECT_FALSE(std::regex_search(err, kNotPlain)) << shown << ": not plain\nstderr: " << err;
    EXPECT_LT(o.err.size(), 1000u) << shown << ": a message of " << o.err.size() << " bytes";
  }

  fs::path dir_;
};

const std::string kTinyModel =
    std::string(ROOTOPT_SOURCE_DIR) + "/tests/audit/fixtures/tiny-llama.json";
const Args kFastAudit{"--samples", "4", "--matrix-samples", "1", "--proxy-rank", "16",
                      "--threads", "1", "--no-plot"};
const Args kFastTune{"--samples",       "8", "--heldout-samples",     "8", "--heldout", "none",
                     "--random-starts", "0", "--validation-matrices", "0", "--threads", "1"};

Args operator+(Args a, const Args& b) {
  a.insert(a.end(), b.begin(), b.end());
  return a;
}

// A model config nested 70,000 levels deep segfaulted shapes, tune and audit; a 10 MB
// model_type was echoed whole; directories and FIFOs failed in C++ terms or blocked forever.
TEST_F(UserErrors, HostileModelConfigs) {
  const int depth = 70000;
  const std::string deep =
      write("deep.json", R"({"model_type": "llama", "hidden_size": )" + std::string(depth, '[') +
                             std::string(depth, ']') + "}");
  const std::string nested = "nested more than 64 levels";
  expect_plain_failure({"shapes", deep}, nested);
  expect_plain_failure({"shapes", "--json", deep}, nested);
  expect_plain_failure(Args{"tune", "--model", deep, "--out", path("t.h5")} + kFastTune, nested);
  expect_plain_failure(Args{"audit", "--model", deep, "--out", path("audit")} + kFastAudit, nested);

  const std::string type =
      write("type.json", R"({"model_type": ")" + std::string(10 << 20, 'x') + "\"}");
  expect_plain_failure({"shapes", type}, "unknown model_type 'xxxx");
  expect_plain_failure({"shapes", write("large.json", std::string(17 << 20, ' '))},
                       "too large for a model config");

  fs::create_directory(path("dir.json"));
  ASSERT_EQ(mkfifo(path("fifo.json").c_str(), 0600), 0);
  for (const std::string name : {"dir.json", "fifo.json"}) {
    expect_plain_failure({"shapes", path(name)}, path(name) + ": not a regular file");
    expect_plain_failure(Args{"tune", "--model", path(name), "--out", path("t.h5")} + kFastTune,
                         "not a regular file");
  }
  expect_plain_failure(
      Args{"audit", "--model", path("fifo.json"), "--out", path("audit")} + kFastAudit,
      "not a regular file");

  const std::string product = write("product.json", R"({"model_type": "llama",
    "hidden_size": 4096, "num_attention_heads": 16777216, "head_dim": 16777216,
    "num_hidden_layers": 2, "vocab_size": 100, "intermediate_size": 100})");
  expect_plain_failure({"shapes", product}, "q_proj would be 281474976710656x4096");
  expect_plain_failure(Args{"tune", "--model", product, "--out", path("t.h5")} + kFastTune,
                       "above 16777216 (2^24)");
  EXPECT_FALSE(fs::exists(path("t.h5")));
}

// Numbers: CLI11 clamped out-of-range integers (99999999999999999999 -> 2^63 - 1), wrapped -1
// into 2^64 - 1 for seeds and read 010 as octal; eval then ran out of memory or never returned.
TEST_F(UserErrors, UnboundedNumbers) {
  const Args eval{"eval", "--schedule", "muon", "--shape", "64x64"};
  expect_plain_failure(eval + Args{"--matrix-samples", "99999999999999999999"},
                       "--matrix-samples: '99999999999999999999' is outside");
  expect_plain_failure(eval + Args{"--seed", "-1"}, "'-1' is not a non-negative decimal integer");
  expect_plain_failure(eval + Args{"--seed", "18446744073709551616"},
                       "is outside [0, 18446744073709551615]");
  expect_plain_failure(eval + Args{"--samples", "0x10"}, "'0x10' is not a decimal integer");
  expect_plain_failure(eval + Args{"--matrix-samples", "10001"},
                       "--matrix-samples must be in 0..10000");
  expect_plain_failure(eval + Args{"--steps", "999999999"}, "--steps must be in 1..64");
  expect_plain_failure(eval + Args{"--proxy-rank", "99999"}, "--proxy-rank must be in 2..4096");
  // 17 spectra of rank 2^24 are 2^28 + 2^24 values (2.1 GiB): refused before sampling.
  expect_plain_failure({"eval", "--schedule", "muon", "--shape", "16777216x16777216", "--samples",
                        "17", "--matrix-samples", "0"},
                       "use --samples 16 or fewer");
  const Args audit{"audit", "--model", kTinyModel, "--no-plot", "--out"};
  expect_plain_failure(audit + Args{path("audit"), "--samples", "99999999999999999999"},
                       "'99999999999999999999' is outside");
  expect_plain_failure(audit + Args{path("audit"), "--seed", "-5"}, "non-negative");
  expect_plain_failure(audit + Args{path("audit"), "--envelope-bound", "inf"},
                       "--envelope-bound must be");
  expect_plain_failure(audit + Args{""}, "the output directory name is empty");
  EXPECT_FALSE(fs::exists(path("audit")));
}

// A 1 KB HDF5 file can declare a 2^20 x 2^10 dataset (chunked, never written): every reader of
// user matrices and spectra allocated it whole and died in std::bad_alloc.
TEST_F(UserErrors, DeclaredHugeDatasets) {
  const std::string file = path("huge.h5");
  {
    const hid_t out = H5Fcreate(file.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
    const hsize_t dims[2] = {hsize_t{1} << 20, hsize_t{1} << 10}, chunk[2] = {16, 16};
    const hid_t space = H5Screate_simple(2, dims, nullptr);
    const hid_t props = H5Pcreate(H5P_DATASET_CREATE);
    ASSERT_GE(H5Pset_chunk(props, 2, chunk), 0);
    const hid_t dataset =
        H5Dcreate2(out, "/momentum", H5T_IEEE_F32LE, space, H5P_DEFAULT, props, H5P_DEFAULT);
    ASSERT_GE(dataset, 0);
    H5Dclose(dataset), H5Pclose(props), H5Sclose(space), H5Fclose(out);
  }
  const std::string limit = "more than the limit of 2^28 values";
  expect_plain_failure({"eval", "--schedule", "muon", "--shape", "64x64", "--matrices", file},
                       limit);
  expect_plain_failure(
      {"eval", "--schedule", "muon", "--shape", "64x64", "--family", "captured:file=" + file},
      limit);
  expect_plain_failure(
      Args{"tune", "--shapes", "64x64", "--matrices", file, "--out", path("t.h5")} + kFastTune,
      limit);
  expect_plain_failure(
      Args{"audit", "--model", kTinyModel, "--matrices", file, "--out", path("audit")} + kFastAudit,
      limit);
}

// A config whose file name is not UTF-8 (and that has no _name_or_path, so the name comes from
// the file name): `shapes` and `tune` accepted it, `shapes --json` and `audit` failed in
// nlohmann::json's terms. Now all accept it; JSON output carries U+FFFD for the bad byte.
TEST_F(UserErrors, NonUtf8FileNamesWorkEverywhere) {
  const std::string config = path("tiny\xff.json");
  std::string text = read_file(kTinyModel);
  text.erase(text.find("\"_name_or_path\""),
             text.find("\"model_type\"") - text.find("\"_name_or_path\""));
  write("tiny\xff.json", text);

  Outcome o = run({"shapes", "--json", config});
  ASSERT_EQ(o.status, 0) << o.err;
  const nlohmann::json shapes = nlohmann::json::parse(o.out);
  EXPECT_EQ(shapes.at("name"), "tiny\xef\xbf\xbd");
  EXPECT_EQ(shapes.at("orthogonalized_shapes").size(), 3u);

  o = run(Args{"audit", "--model", config, "--out", path("audit")} + kFastAudit);
  ASSERT_EQ(o.status, 0) << o.err;
  const nlohmann::json audit = nlohmann::json::parse(read_file(path("audit/audit.json")));
  EXPECT_EQ(audit.at("rows").size(), 9u);
}

}  // namespace
