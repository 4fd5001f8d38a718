// `rootopt tune` and `rootopt shapes` as a user runs them: bad input exits non-zero with a
// message and writes nothing; SIGINT keeps the finished shapes in a valid table that --resume
// completes.
#include <gtest/gtest.h>

#include <sys/wait.h>
#include <unistd.h>
#include <chrono>
#include <csignal>
#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>
#include <thread>

#include "rootopt/coefficient_table.h"
#include "tuner_test_support.h"

namespace rootopt {
namespace {

const std::string kFamilies = " --families low-rank,power-law";

class TuneCli : public testing::ScratchDir {
 protected:
  struct Outcome {
    int status = -1;  // exit status, or -1 when killed by a signal
    std::string err;
  };
  Outcome run(const std::string& args) const {
    const std::string err_path = path("stderr.txt");
    const std::string command =
        std::string(ROOTOPT_CLI) + " " + args + " > /dev/null 2> " + err_path;
    const int raw = std::system(command.c_str());
    Outcome o;
    o.status = WIFEXITED(raw) ? WEXITSTATUS(raw) : -1;
    std::ifstream in(err_path);
    std::stringstream text;
    text << in.rdbuf();
    o.err = text.str();
    std::filesystem::remove(err_path);
    return o;
  }
  // Fast settings for a CLI run (see fast_options()).
  static std::string fast() {
    return " --samples 8 --heldout-samples 8 --heldout none --steps 5 --form standard"
           " --tails none --selection-matrices 1 --validation-matrices 1"
           " --proxy-rank 16 --threads 1";
  }
};

TEST_F(TuneCli, BadInputFailsCleanlyAndWritesNothing) {
  const std::string out = " --out " + path("t.h5");
  const std::string malformed = write("malformed.json", "{\"model_type\": ");
  const std::string unknown = write("unknown.json", "{\"model_type\": \"bert\"}");
  const std::string not_h5 = write("not.h5", "plain text");
  const std::pair<std::string, std::string> cases[] = {
      {"--shapes 0x64" + out, "0x64"},
      {"--shapes -4x64" + out, "-4x64"},
      {"--shapes 64x99999999999" + out, "64x99999999999"},
      {"--shapes 64x64,,32x32" + out, "empty"},
      {"--shapes 64y64" + out, "64y64"},
      {"--model " + malformed + out, "malformed JSON"},
      {"--model " + unknown + out, "bert"},
      {"--model " + path("absent.json") + out, "absent.json"},
      {"--shapes 64x64 --families nosuchfamily" + out, "nosuchfamily"},
      {"--shapes 64x64 --families power-law:alpha=3" + out, "alpha"},
      {"--shapes 64x64 --envelope-bound 0.9" + out, "--envelope-bound"},
      {"--shapes 64x64 --envelope-bound nan" + out, "envelope"},
      {"--shapes 64x64 --steps 0" + out, "--steps"},
      {"--shapes 64x64 --steps 17" + out, "--steps"},
      {"--shapes 64x64 --steps 1e9" + out, "--steps"},
      {"--shapes 64x64 --steps 99999999999999999999" + out, "--steps"},
      {"--shapes 64x64 --samples -3" + out, "--samples"},
      {"--shapes 64x64 --samples 99999999999" + out, "--samples: fitting sample count 99999999999"},
      {"--shapes 64x64 --random-starts 99999999999" + out, "--random-starts"},
      {"--shapes 64x64 --validation-matrices 99999999999" + out, "--validation-matrices"},
      {"--shapes 64x64 --threads 99999999999" + out, "--threads"},
      {"--shapes 64x64 --seed -1" + out, "--seed"},
      {"--shapes 64x64 --seed 99999999999999999999999" + out, "--seed"},
      {"--shapes 64x64 --seed 0x10" + out, "--seed"},
      {"--shapes 64x64 --normalization schatten6" + out, "schatten6"},
      {"--shapes 64x64 --normalization aol" + out, "--normalization"},
      {"--shapes 64x64 --form diagonal" + out, "--form"},
      {"--shapes 64x64 --tails sometimes" + out, "--tails"},
      {"--shapes 64x64 --budget 0" + out, "--budget"},
      {"--shapes 64x64 --budget -1" + out, "--budget"},
      {"--shapes 64x64 --budget 1e9" + out, "--budget"},
      {"--shapes 64x64 --budget nan" + out, "--budget"},
      {"--shapes 64x64 --budget 0.05" + out, "--budget: no recipe for 64x64"},
      {"--shapes 64x64 --guard -1" + out, "--guard"},
      {"--shapes 64x64 --mode twice" + out, "twice"},
      {"--shapes 64x64 --matrices " + not_h5 + out, "not.h5"},
      {"--shapes 64x64 --matrices " + path("missing.h5") + out, "missing.h5"},
      {"--shapes 64x64 --out " + path("no/dir/t.h5"), "--out: "},
      {"--shapes 64x64 --out " + path(std::string(250, 'n')), "name too long"},
      {"--shapes 64x64 --out " + dir_.string(), "is a directory"},
      {"--shapes 64x64 --model " + malformed + out, "exactly one"},
  };
  for (const auto& [args, needle] : cases) {
    const bool families = args.find("--families") != std::string::npos;
    // An option given twice is a CLI error of its own: the case's value replaces fast()'s.
    std::string options = fast();
    for (const char* flag :
         {"--steps", "--threads", "--validation-matrices", "--tails", "--form", "--samples"})
      if (args.find(flag) != std::string::npos) {
        const size_t at = options.find(flag);
        const size_t end = options.find(" --", at + 1);
        options.erase(at - 1, end == std::string::npos ? std::string::npos : end - at + 1);
      }
    const Outcome o = run("tune " + args + options + (families ? "" : kFamilies));
    EXPECT_GE(o.status, 1) << args;
    EXPECT_LT(o.status, 128) << args;
    EXPECT_NE(o.err.find(needle), std::string::npos) << args << "\nstderr: " << o.err;
    EXPECT_EQ(o.err.find(".cpp:"), std::string::npos) << args << "\nstderr: " << o.err;
    EXPECT_FALSE(std::filesystem::exists(path("t.h5"))) << args;
    EXPECT_EQ(o.err.find("tuning 1 shape"), std::string::npos) << "work started: " << args;
  }
  const Outcome shapes = run("shapes " + unknown);
  EXPECT_EQ(shapes.status, 1);
  EXPECT_NE(shapes.err.find("unknown model_type 'bert'"), std::string::npos) << shapes.err;
}

// An existing --out is replaced only with --force and continued only with --resume; a refused
// run leaves it byte for byte as it was.
TEST_F(TuneCli, ExistingOutputNeedsForceOrResume) {
  const std::string out = write("t.h5", "not a table, but someone's file");
  const std::string args = "tune --shapes 32x64 --out " + out + fast() + kFamilies;
  const Outcome refused = run(args);
  EXPECT_EQ(refused.status, 1);
  EXPECT_NE(refused.err.find("already exists"), std::string::npos) << refused.err;
  EXPECT_NE(refused.err.find("--force"), std::string::npos) << refused.err;
  std::ifstream in(out);
  EXPECT_EQ(std::string(std::istreambuf_iterator<char>(in), {}), "not a table, but someone's file");
  const Outcome forced = run(args + " --force");
  EXPECT_EQ(forced.status, 0) << forced.err;
  EXPECT_EQ(CoefficientTable::load(out).size(), 1);
}

TEST_F(TuneCli, ShapesListsWeightsAndKeys) {
  const Outcome o = run("shapes " + std::string(ROOTOPT_MODELS_DIR) + "/llama-3-8b.json --json");
  EXPECT_EQ(o.status, 0) << o.err;
}

TEST_F(TuneCli, SigintKeepsFinishedShapesAndResumeCompletes) {
  // Enough shapes that the run is still busy when the first one is saved.
  std::string shapes = "--shapes ";
  const int kShapes = 24;
  for (int i = 0; i < kShapes; ++i) shapes += (i ? "," : "") + std::to_string(40 + 4 * i) + "x160";
  const std::string out = path("t.h5");
  const std::string args = "tune " + shapes + " --out " + out + fast() + kFamilies;
  const pid_t child = fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    const std::string command = std::string(ROOTOPT_CLI) + " " + args + " > /dev/null 2>&1";
    execl("/bin/sh", "sh", "-c", ("exec " + command).c_str(), static_cast<char*>(nullptr));
    _exit(127);
  }
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  while (!std::filesystem::exists(out) && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  ASSERT_TRUE(std::filesystem::exists(out)) << "no shape finished in 60 s";
  kill(child, SIGINT);
  int raw = 0;
  waitpid(child, &raw, 0);
  ASSERT_TRUE(WIFEXITED(raw)) << "killed by the signal instead of stopping cleanly";
  EXPECT_NE(WEXITSTATUS(raw), 0);
  const CoefficientTable partial = CoefficientTable::load(out);
  EXPECT_GE(partial.size(), 1);
  EXPECT_LT(partial.size(), kShapes) << "the run finished before SIGINT; test inconclusive";

  const Outcome resumed = run(args + " --resume");
  EXPECT_EQ(resumed.status, 0) << resumed.err;
  EXPECT_NE(resumed.err.find("kept " + std::to_string(partial.size())), std::string::npos)
      << resumed.err;
  EXPECT_EQ(CoefficientTable::load(out).size(), kShapes);
}

// Issue 12, item 10: SIGKILL during a save leaves "<out>.tmp.<pid>"; ten killed runs must not
// leave ten. Each killed run's temporary is planted under its own (now dead) pid, since a kill
// rarely lands inside the milliseconds of a save; a live process's temporary (this test's) must
// survive. After a completed --resume, only that one is left.
TEST_F(TuneCli, KilledRunsLeaveNoTemporariesAfterResume) {
  const std::string out = path("t.h5");
  const std::string args =
      "tune --shapes 40x160,44x160,48x160,52x160 --out " + out + fast() + kFamilies + " --resume";
  std::mt19937_64 rng(12);
  for (int kill_number = 0; kill_number < 10; ++kill_number) {
    const pid_t child = fork();
    ASSERT_GE(child, 0);
    if (child == 0) {
      const std::string command = std::string(ROOTOPT_CLI) + " " + args + " > /dev/null 2>&1";
      execl("/bin/sh", "sh", "-c", ("exec " + command).c_str(), static_cast<char*>(nullptr));
      _exit(127);
    }
    std::this_thread::sleep_for(
        std::chrono::milliseconds(std::uniform_int_distribution<int>(20, 400)(rng)));
    kill(child, SIGKILL);
    int raw = 0;
    waitpid(child, &raw, 0);
    std::ofstream(out + ".tmp." + std::to_string(child)) << "half a table";
  }
  const std::string live = out + ".tmp." + std::to_string(getpid());
  std::ofstream(live) << "another writer, still running";
  const Outcome resumed = run(args);
  ASSERT_EQ(resumed.status, 0) << resumed.err;
  EXPECT_EQ(CoefficientTable::load(out).size(), 4);
  std::vector<std::string> left;
  for (const auto& entry : std::filesystem::directory_iterator(path("")))
    if (entry.path().string().find(".tmp.") != std::string::npos)
      left.push_back(entry.path().string());
  EXPECT_EQ(left, std::vector<std::string>{live});
}

}  // namespace
}  // namespace rootopt
