#include "state_file.h"

#include <cmath>
#include <map>
#include <set>

#include "check.h"
#include "h5.h"
#include "h5_reader.h"

namespace rootopt::detail {
namespace {

// A parameter name is short text; this bounds what a damaged file can make us read.
constexpr size_t kMaxNameBytes = size_t(1) << 16;

std::string dataset_name(size_t index) { return "momentum/" + std::to_string(index); }

std::string extents_text(int64_t batch, int64_t rows, int64_t cols) {
  return std::to_string(batch) + " x " + std::to_string(rows) + "x" + std::to_string(cols);
}

}  // namespace

void write_state_file(const std::string& path, const OptimizerState& state) {
  const h5::SilenceErrors silence;
  h5::write_atomically(path, [&](hid_t file) {
    h5::write_attribute(file, "format", std::string(kStateFormat));
    h5::write_attribute(file, "format_version", kStateFormatVersion);
    h5::write_attribute(file, "step", state.step);
    h5::write_attribute(file, "params", int64_t(state.momentum.size()));
    h5::create_group(file, "momentum");
    for (size_t i = 0; i < state.momentum.size(); ++i) {
      const MomentumRecord& r = state.momentum[i];
      const std::string name = dataset_name(i);
      h5::write_floats(file, name, {hsize_t(r.batch), hsize_t(r.rows), hsize_t(r.cols)},
                       r.values.data());
      h5::write_attribute(h5::open_dataset(file, name, path), "name", r.name);
    }
  });
}

OptimizerState read_state_file(const std::string& path,
                               const std::vector<MomentumRecord>& registered) {
  const h5::SilenceErrors silence;
  const std::unique_ptr<h5::Reader> file = h5::open_file_reader(path);
  const int64_t version = h5::check_format(*file, {kStateFormat, "rootopt optimizer state file", 1,
                                                   kStateFormatVersion, kStateFormatVersion});
  OptimizerState state;
  state.step = file->read_int_attribute("", "step");
  ROOTOPT_CHECK(state.step >= 0, path, ": step count ", state.step, " is negative");
  const int64_t count = file->read_int_attribute("", "params");
  ROOTOPT_CHECK(count == int64_t(registered.size()), path, ": the state file holds ", count,
                " parameters, this optimizer has ", registered.size());
  std::map<std::string, const MomentumRecord*> expected;
  for (const MomentumRecord& r : registered) expected.emplace(r.name, &r);

  // Everything but the values first: a file that does not fit fails before a large read.
  std::set<std::string> seen;
  for (int64_t i = 0; i < count; ++i) {
    const std::string name = dataset_name(size_t(i));
    MomentumRecord record;
    record.name = file->read_string_attribute(
        name, "name",
        version == 1 ? h5::StringStorage::fixed_or_variable : h5::StringStorage::fixed_only);
    ROOTOPT_CHECK(record.name.size() <= kMaxNameBytes, path, ": /", name, " has a name of ",
                  record.name.size(), " bytes");
    const auto it = expected.find(record.name);
    ROOTOPT_CHECK(it != expected.end(), path, ": parameter '", record.name,
                  "' of the state file is not registered in this optimizer");
    ROOTOPT_CHECK(seen.insert(record.name).second, path, ": parameter name '", record.name,
                  "' appears twice");
    const h5::ValueInfo info = file->dataset(name);
    ROOTOPT_CHECK(info.cls == h5::ValueClass::floating && info.size == 4, path, ": parameter '",
                  record.name, "' (/", name, ") is not float32 momentum");
    const MomentumRecord& want = *it->second;
    const bool fits = info.extents.size() == 3 && info.extents[0] == hsize_t(want.batch) &&
                      info.extents[1] == hsize_t(want.rows) &&
                      info.extents[2] == hsize_t(want.cols);
    ROOTOPT_CHECK(fits, path, ": parameter '", record.name, "' has shape ",
                  info.extents.size() == 3
                      ? extents_text(int64_t(info.extents[0]), int64_t(info.extents[1]),
                                     int64_t(info.extents[2]))
                      : "of rank " + std::to_string(info.extents.size()),
                  " in the state file, ", extents_text(want.batch, want.rows, want.cols), " here");
    record.batch = want.batch, record.rows = want.rows, record.cols = want.cols;
    state.momentum.push_back(std::move(record));
  }
  for (size_t i = 0; i < state.momentum.size(); ++i) {
    MomentumRecord& record = state.momentum[i];
    const std::string name = dataset_name(i);
    record.values = file->read_floats(name);
    for (size_t j = 0; j < record.values.size(); ++j)
      ROOTOPT_CHECK(std::isfinite(record.values[j]), path, ": /", name, " ('", record.name,
                    "') holds a non-finite value at element ", j);
  }
  return state;
}

}  // namespace rootopt::detail
