// What the tuner guarantees, checked again on load (issue 12, item 3): a composed map that
// explodes is refused, an imperfect but published one loads with a warning naming the shape. And
// the limits on sizes (item 5), enforced before anything is allocated.
#include <gtest/gtest.h>

#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <limits>

#include "h5.h"
#include "rootopt/coefficient_table.h"
#include "rootopt/spectral.h"
#include "table_test_support.h"
#include "table_v1_writer.h"

namespace fs = std::filesystem;
namespace h5 = rootopt::h5;
using rootopt::CoefficientTable;
using rootopt::QuinticStep;
using rootopt::Schedule;
using rootopt::Shape;
using rootopt::testing::expect_error;

namespace {

using TableChecks = rootopt::testing::ScratchDirTest;

// `value` with bit `bit` of its IEEE-754 representation flipped.
double flip_bit(double value, int bit) {
  uint64_t bits = 0;
  std::memcpy(&bits, &value, 8);
  bits ^= uint64_t(1) << bit;
  std::memcpy(&value, &bits, 8);
  return value;
}

Schedule polar_express_with(int64_t step, double QuinticStep::*field, double value) {
  std::vector<QuinticStep> steps = rootopt::builtin_schedule("polar-express", {1, 1}, 5).steps();
  steps[size_t(step)].*field = value;
  return Schedule("damaged", steps);
}

// Replaces /coefficients of a saved version-2 table with `schedule`'s (one shape, 5 steps).
void overwrite_coefficients(const std::string& file, const Schedule& schedule) {
  h5::Id handle(H5Fopen(file.c_str(), H5F_ACC_RDWR, H5P_DEFAULT), H5Fclose);
  ASSERT_GE(handle.get(), 0);
  ASSERT_GE(H5Ldelete(handle, "coefficients", H5P_DEFAULT), 0);
  std::vector<double> values;
  for (const QuinticStep& st : schedule.steps()) values.insert(values.end(), {st.a, st.b, st.c});
  h5::write_doubles(handle, "coefficients", {1, 5, 3}, values.data());
}

// One flipped exponent bit (x16: the probe's 7.9166 -> 126.67) or a stray 1e6 passes every
// per-coefficient check (finite) but makes the map explode: refused, in memory and on load, with
// the file and shape named. The references: the composed map evaluated independently at s = 1.
TEST_F(TableChecks, RefusesExplodingMaps) {
  const double a1 = rootopt::builtin_schedule("polar-express", {1, 1}, 5)[0].a;
  const double flipped = flip_bit(a1, 54);  // exponent + 4
  ASSERT_EQ(flipped, 16 * a1);
  for (const Schedule& bad : {polar_express_with(0, &QuinticStep::a, flipped),
                              polar_express_with(2, &QuinticStep::a, 1e6),
                              polar_express_with(4, &QuinticStep::c, -1e6)}) {
    ASSERT_GT(std::abs(bad.map(1.0)), rootopt::kMaxTableMapValue);  // really explodes
    CoefficientTable table;
    expect_error(
        [&] {
          table.set({1024, 4096}, bad);
        },
        {"1024x4096", "composed map reaches", "beyond +-10"});
    EXPECT_EQ(table.size(), 0);
    // The same damage in a file: a valid table whose coefficients were overwritten afterwards.
    CoefficientTable good;
    good.set({1024, 4096}, rootopt::builtin_schedule("polar-express", {1, 1}, 5));
    good.save(path("t.h5"));
    overwrite_coefficients(path("t.h5"), bad);
    expect_error([&] { CoefficientTable::load(path("t.h5")); },
                 {"t.h5", "shape 1024x4096", "composed map reaches"});
  }
  // Overflow to infinity or NaN inside the map, with finite coefficients.
  CoefficientTable table;
  expect_error(
      [&] {
        table.set({8, 8}, Schedule("huge", {{1e300, 1e300, -1e300}, {1, 1, 1}}));
      },
      {"8x8", "composed map reaches"});
}

// No single exponent-bit flip of a published schedule's coefficients goes unnoticed: each is
// refused (non-finite coefficient or exploding map) or loads with a warning.
TEST_F(TableChecks, EveryExponentBitFlipIsRefusedOrWarned) {
  const std::vector<QuinticStep> base =
      rootopt::builtin_schedule("polar-express", {1, 1}, 5).steps();
  int refused = 0, warned = 0;
  for (size_t k = 0; k < base.size(); ++k)
    for (double QuinticStep::*field : {&QuinticStep::a, &QuinticStep::b, &QuinticStep::c})
      for (int bit = 52; bit < 63; ++bit) {
        std::vector<QuinticStep> steps = base;
        steps[k].*field = flip_bit(steps[k].*field, bit);
        CoefficientTable table;
        try {
          table.set({8, 8}, Schedule("flipped", steps));
        } catch (const rootopt::Error&) {
          ++refused;
          continue;
        }
        EXPECT_NE(table.warning(0), "") << "step " << k + 1 << " bit " << bit;
        ++warned;
      }
  EXPECT_EQ(refused + warned, 165);
  EXPECT_GT(refused, warned);  // most flips explode
}

// The ROOT paper's 2048x2048 triple at 5 steps reaches 3.31 on [0, 1]: published, so it loads,
// with a warning that names the shape's excess over the table's envelope bound (1.3 unless the
// table states its own). At 8 steps the same triple explodes (5.5e72) and is refused.
TEST_F(TableChecks, WarnsAboutImperfectPublishedSchedules) {
  const Shape shape{2048, 2048};
  const Schedule root = rootopt::builtin_schedule("root-paper", shape, 5);
  const double reference = rootopt::envelope(root).max_value;  // fine grid, independent of load
  ASSERT_GT(reference, 3.3);
  CoefficientTable table;
  table.set(shape, root);
  table.set({1024, 4096}, rootopt::builtin_schedule("polar-express", shape, 5));
  table.save(path("t.h5"));
  const CoefficientTable loaded = CoefficientTable::load(path("t.h5"));
  const std::string warning = loaded.warning(*loaded.find(shape));
  EXPECT_NE(warning.find("reaches 3.31"), std::string::npos) << warning;
  EXPECT_NE(warning.find("envelope bound 1.3"), std::string::npos) << warning;
  EXPECT_EQ(loaded.warning(*loaded.find({1024, 4096})), "");  // Polar Express: 1.12
  table.attributes()["envelope_bound"] = "4";                 // tuned with a looser bound
  EXPECT_EQ(table.warning(*table.find(shape)), "");
  table.attributes()["envelope_bound"] = "not a number";  // ignored: the default applies
  EXPECT_NE(table.warning(*table.find(shape)), "");
  expect_error([&] { table.set(shape, rootopt::builtin_schedule("root-paper", shape, 8)); },
               {"2048x2048", "composed map reaches"});
}

// A step whose map goes negative flips the sign of some singular values: loadable, warned.
TEST_F(TableChecks, WarnsAboutNegativeStepMaps) {
  // p(s) = 3s - 6s^3 + 2s^5: p(1) = -1, its minimum on [0, 1] (checked independently below).
  const Schedule schedule("negative", {{3, -6, 2}});
  double lowest = 0;
  for (int i = 0; i <= 100000; ++i) lowest = std::min(lowest, schedule.map(i / 100000.0));
  CoefficientTable table;
  table.set({64, 64}, schedule);
  const std::string warning = table.warning(0);
  EXPECT_NE(warning.find("step 1's map goes down to " + std::to_string(int(lowest))),
            std::string::npos)
      << warning << " (reference minimum " << lowest << ")";
  expect_error([&] { table.warning(1); }, {"index 1"});
}

// Sizes are checked before anything is read or allocated.
TEST_F(TableChecks, LimitsAreCheckedBeforeAllocating) {
  // A small file declaring 2e8 shapes (unwritten chunked storage takes no space).
  {
    h5::Id file = h5::create_file(path("many.h5"));
    h5::write_attribute(file, "format", std::string(rootopt::kTableFormat));
    h5::write_attribute(file, "format_version", int64_t{2});
    const hsize_t extents[2] = {200000000, 2}, chunk[2] = {1024, 2};
    h5::Id space(H5Screate_simple(2, extents, nullptr), H5Sclose);
    h5::Id props(H5Pcreate(H5P_DATASET_CREATE), H5Pclose);
    ASSERT_GE(H5Pset_chunk(props, 2, chunk), 0);
    h5::Id set(H5Dcreate2(file, "shapes", H5T_STD_I64LE, space, H5P_DEFAULT, props, H5P_DEFAULT),
               H5Dclose);
    ASSERT_GE(set.get(), 0);
  }
  EXPECT_LT(fs::file_size(path("many.h5")), 8192u);
  const auto start = std::chrono::steady_clock::now();
  expect_error([&] { CoefficientTable::load(path("many.h5")); },
               {"many.h5", "'shapes' declares 200000000 shapes", "more than the 16384"});
  // Refused from the extents alone: reading 2e8 fill values would take seconds and 3 GB.
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(1));

  // A version-1 table with steps = 1e6 (the probe's hang): refused before the coefficients.
  rootopt::testing::TableV1 v1;
  v1.steps = 1000000;
  v1.shapes = {8, 8};
  rootopt::testing::write_table_v1(path("steps.h5"), v1);
  expect_error([&] { CoefficientTable::load(path("steps.h5")); },
               {"steps.h5", "'steps' = 1000000 is not a valid step count (1 to 64)"});

  // A file above the size any table has is not read at all.
  {
    std::ofstream big(path("big.h5"), std::ios::binary);
    big.seekp(std::streamoff(rootopt::kMaxTableFileBytes));
    big.put('\0');
  }
  expect_error([&] { CoefficientTable::load(path("big.h5")); }, {"big.h5", "more than the"});

  // Save refuses a table whose file load would refuse for its size, and writes nothing: 520
  // provenance values of 64 KiB are stored as 1040 fixed-length strings of 64 KiB (68 MB).
  CoefficientTable table;
  table.set({8, 8}, rootopt::builtin_schedule("polar-express", {8, 8}, 5));
  for (int i = 0; i < 520; ++i)
    table.attributes()["p" + std::to_string(i)] =
        std::string(size_t(rootopt::kMaxTableStringBytes), 'x');
  expect_error([&] { table.save(path("huge.h5")); },
               {"huge.h5", "more than a table file may hold"});
  EXPECT_FALSE(fs::exists(path("huge.h5")));
}

}  // namespace
