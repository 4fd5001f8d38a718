// Damaged table files never crash (issue 12, item 2): every byte of a valid version-1 and
// version-2 table inverted in turn, and 16-byte runs overwritten (the probe that crashed HDF5
// 1.10 inside H5Aiterate2 / H5HG_read: 16 bytes at offset 1500 of a bundled table). Each damaged
// file either loads or is refused with rootopt::Error; a crash fails the whole test binary. A
// version-2 table is checksummed throughout, so whatever still loads must be the same table.
#include <gtest/gtest.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <optional>
#include <string>

#include "rootopt/coefficient_table.h"
#include "rootopt/error.h"
#include "table_test_support.h"

namespace {

const std::string kCorpus = std::string(ROOTOPT_TEST_SOURCE_DIR) + "/fuzz/corpus/table/";

std::string read_bytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

// Loads `image`: the table, or nullopt if refused. Anything else escapes the test.
std::optional<rootopt::CoefficientTable> load(const std::string& image) {
  try {
    return rootopt::CoefficientTable::load_image(image, "damaged.h5");
  } catch (const rootopt::Error&) {
    return std::nullopt;
  }
}

bool loads(const std::string& image) { return load(image).has_value(); }

bool same_bits(double x, double y) { return std::memcmp(&x, &y, sizeof x) == 0; }

// Bit-identical content: shapes, every recipe field, metrics (NaN included), provenance.
bool same_table(const rootopt::CoefficientTable& x, const rootopt::CoefficientTable& y) {
  if (x.shapes() != y.shapes() || x.attributes() != y.attributes()) return false;
  for (int64_t i = 0; i < x.size(); ++i) {
    const rootopt::Recipe &r = x.recipe(i), &q = y.recipe(i);
    if (r.steps() != q.steps() || r.normalization != q.normalization || r.form != q.form ||
        r.restarts != q.restarts || r.tail_steps != q.tail_steps ||
        r.tail_precision != q.tail_precision)
      return false;
    for (int64_t k = 0; k < r.steps(); ++k)
      if (!same_bits(r.schedule[k].a, q.schedule[k].a) ||
          !same_bits(r.schedule[k].b, q.schedule[k].b) ||
          !same_bits(r.schedule[k].c, q.schedule[k].c))
        return false;
  }
  if (x.metrics().size() != y.metrics().size()) return false;
  for (const auto& [name, column] : x.metrics()) {
    const auto other = y.metrics().find(name);
    if (other == y.metrics().end()) return false;
    for (size_t i = 0; i < column.size(); ++i)
      if (!same_bits(column[i], other->second[i])) return false;
  }
  return true;
}

struct Outcome {
  int64_t loaded = 0, refused = 0, changed = 0;  // changed: loaded, but not the same table
};

Outcome damage_every(const std::string& image, size_t width, size_t stride, char fill,
                     bool invert) {
  const rootopt::CoefficientTable original = *load(image);
  Outcome outcome;
  for (size_t at = 0; at < image.size(); at += stride) {
    std::string damaged = image;
    for (size_t i = at; i < std::min(at + width, damaged.size()); ++i)
      damaged[i] = invert ? char(~damaged[i]) : fill;
    const auto table = load(damaged);
    (table ? outcome.loaded : outcome.refused)++;
    if (table && !same_table(*table, original)) outcome.changed++;
  }
  return outcome;
}

// Written by rootopt's version-2 writer: metadata checksums and Fletcher32 throughout.
bool checksummed(const std::string& seed) {
  return seed == "v2-two-shapes.h5" || seed == "v2-recipes.h5";
}

class TableDamage : public ::testing::TestWithParam<const char*> {};
using TableDamageEveryByte = TableDamage;

// Every byte: the small seeds (a version-2 table as rootopt and as h5py writes it, a version-1
// table as h5py wrote it). The bundled version-1 table (23880 bytes) gets the 16-byte runs below.
TEST_P(TableDamageEveryByte, EveryByteInvertedLoadsOrIsRefused) {
  const std::string image = read_bytes(kCorpus + GetParam());
  ASSERT_GT(image.size(), 1000u);
  ASSERT_TRUE(loads(image));
  const Outcome outcome = damage_every(image, 1, 1, 0, true);
  // Most bytes are structure or data the checks see; some are padding or unused space.
  EXPECT_GT(outcome.refused, 0);
  if (checksummed(GetParam())) {
    EXPECT_EQ(outcome.changed, 0);
  }
  std::printf(
      "%s: %lld bytes inverted one at a time: %lld refused, %lld still load (%lld of "
      "them changed)\n",
      GetParam(), static_cast<long long>(image.size()), static_cast<long long>(outcome.refused),
      static_cast<long long>(outcome.loaded), static_cast<long long>(outcome.changed));
}

TEST_P(TableDamage, SixteenByteRunsLoadOrAreRefused) {
  const std::string image = read_bytes(kCorpus + GetParam());
  for (const char fill : {'\x00', '\xff'}) {
    const Outcome outcome = damage_every(image, 16, 16, fill, false);
    if (checksummed(GetParam())) {
      EXPECT_EQ(outcome.changed, 0);
    }
  }
  // The probe: 16 inverted bytes at offset 1500.
  std::string probe = image;
  for (size_t i = 1500; i < 1516 && i < probe.size(); ++i) probe[i] = char(~probe[i]);
  loads(probe);
}

INSTANTIATE_TEST_SUITE_P(Seeds, TableDamageEveryByte,
                         ::testing::Values("v2-two-shapes.h5", "v2-h5py-plain.h5", "v1-h5py.h5"));
INSTANTIATE_TEST_SUITE_P(Seeds, TableDamage,
                         ::testing::Values("v1-llama-3-8b.h5", "v2-two-shapes.h5", "v2-recipes.h5",
                                           "v2-h5py-plain.h5", "v1-h5py.h5"));

}  // namespace
