// Writes a version-1 coefficient table exactly as rootopt did before format version 2: default
// HDF5 file settings (no metadata checksums), contiguous datasets, variable-length UTF-8 string
// attributes, one `steps` for every shape, metrics as /metrics/<name>. Version-1 tables must keep
// loading; this is how the tests make them.
#pragma once

#include <hdf5.h>

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "h5.h"

namespace rootopt::testing {

struct TableV1 {
  int64_t steps = 5;
  std::vector<int64_t> shapes;       // S x 2, row-major
  std::vector<double> coefficients;  // S x steps x 3
  std::map<std::string, std::vector<double>> metrics;
  std::map<std::string, std::string> text;  // provenance, variable-length strings
  std::map<std::string, int64_t> numbers;   // provenance written as integers (h5py style)
};

inline void write_v1_dataset(hid_t file, const std::string& name, hid_t type, hid_t memory,
                             const std::vector<hsize_t>& extents, const void* data) {
  rootopt::h5::Id space(H5Screate_simple(int(extents.size()), extents.data(), nullptr), H5Sclose);
  rootopt::h5::Id props(H5Pcreate(H5P_LINK_CREATE), H5Pclose);
  H5Pset_create_intermediate_group(props, 1);
  rootopt::h5::Id set(H5Dcreate2(file, name.c_str(), type, space, props, H5P_DEFAULT, H5P_DEFAULT),
                      H5Dclose);
  if (set.get() >= 0 && rootopt::h5::element_count(extents, name) > 0)
    H5Dwrite(set, memory, H5S_ALL, H5S_ALL, H5P_DEFAULT, data);
}

inline void write_v1_text(hid_t obj, const std::string& name, const std::string& value) {
  rootopt::h5::Id type(H5Tcopy(H5T_C_S1), H5Tclose);
  H5Tset_size(type, H5T_VARIABLE);
  H5Tset_cset(type, H5T_CSET_UTF8);
  rootopt::h5::Id space(H5Screate(H5S_SCALAR), H5Sclose);
  rootopt::h5::Id attr(H5Acreate2(obj, name.c_str(), type, space, H5P_DEFAULT, H5P_DEFAULT),
                       H5Aclose);
  const char* text = value.c_str();
  H5Awrite(attr, type, &text);
}

inline void write_v1_number(hid_t obj, const std::string& name, int64_t value) {
  rootopt::h5::Id space(H5Screate(H5S_SCALAR), H5Sclose);
  rootopt::h5::Id attr(
      H5Acreate2(obj, name.c_str(), H5T_STD_I64LE, space, H5P_DEFAULT, H5P_DEFAULT), H5Aclose);
  H5Awrite(attr, H5T_NATIVE_INT64, &value);
}

inline void write_table_v1(const std::string& path, const TableV1& table) {
  rootopt::h5::Id file(H5Fcreate(path.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT), H5Fclose);
  write_v1_text(file, "format", "rootopt.coefficients");
  write_v1_number(file, "format_version", 1);
  write_v1_number(file, "steps", table.steps);
  for (const auto& [name, value] : table.text) write_v1_text(file, name, value);
  for (const auto& [name, value] : table.numbers) write_v1_number(file, name, value);
  const auto count = hsize_t(table.shapes.size() / 2);
  write_v1_dataset(file, "shapes", H5T_STD_I64LE, H5T_NATIVE_INT64, {count, 2},
                   table.shapes.data());
  write_v1_dataset(file, "coefficients", H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE,
                   {count, hsize_t(table.steps), 3}, table.coefficients.data());
  rootopt::h5::Id group(H5Gcreate2(file, "metrics", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT),
                        H5Gclose);
  for (const auto& [name, values] : table.metrics)
    write_v1_dataset(file, "metrics/" + name, H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE,
                     {hsize_t(values.size())}, values.data());
}

}  // namespace rootopt::testing
