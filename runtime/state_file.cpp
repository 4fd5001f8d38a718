#include "state_file.h"

#include <cmath>
#include <set>

#include "check.h"
#include "h5.h"

namespace rootopt::detail {
namespace {

std::string dataset_name(size_t index) { return "momentum/" + std::to_string(index); }

MomentumRecord read_record(hid_t file, size_t index, const std::string& path) {
  const std::string name = dataset_name(index);
  const h5::Id dataset = h5::open_dataset(file, name, path);
  MomentumRecord record;
  record.name = h5::read_string_attribute(dataset, "name", path);
  const std::vector<hsize_t> extents = h5::dims(dataset);
  ROOTOPT_CHECK(extents.size() == 3, path, ": /", name, " has rank ", extents.size(),
                ", expected 3 (batch, rows, cols)");
  ROOTOPT_CHECK(h5::type_class(dataset) == H5T_FLOAT, path, ": /", name, " is not a float dataset");
  record.batch = int64_t(extents[0]);
  record.rows = int64_t(extents[1]);
  record.cols = int64_t(extents[2]);
  ROOTOPT_CHECK(record.batch > 0 && record.rows > 0 && record.cols > 0, path, ": /", name,
                " has an empty extent");
  record.values = h5::read_floats(dataset, path + ": /" + name);
  for (size_t i = 0; i < record.values.size(); ++i) {
    ROOTOPT_CHECK(std::isfinite(record.values[i]), path, ": /", name, " ('", record.name,
                  "') holds a non-finite value at element ", i);
  }
  return record;
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

OptimizerState read_state_file(const std::string& path) {
  const h5::SilenceErrors silence;
  const h5::Id file = h5::open_file(path);
  const std::string format = h5::read_string_attribute(file, "format", path);
  ROOTOPT_CHECK(format == kStateFormat, path, ": format is '", format, "', expected '",
                kStateFormat, "' (not an optimizer state file)");
  const int64_t version = h5::read_int_attribute(file, "format_version", path);
  ROOTOPT_CHECK(version == kStateFormatVersion, path, ": format_version ", version,
                " is not supported (this build reads ", kStateFormatVersion, ")");
  OptimizerState state;
  state.step = h5::read_int_attribute(file, "step", path);
  ROOTOPT_CHECK(state.step >= 0, path, ": step count ", state.step, " is negative");
  const int64_t count = h5::read_int_attribute(file, "params", path);
  ROOTOPT_CHECK(count >= 0, path, ": parameter count ", count, " is negative");
  std::set<std::string> names;
  for (int64_t i = 0; i < count; ++i) {
    state.momentum.push_back(read_record(file, size_t(i), path));
    ROOTOPT_CHECK(names.insert(state.momentum.back().name).second, path, ": parameter name '",
                  state.momentum.back().name, "' appears twice");
  }
  return state;
}

}  // namespace rootopt::detail
