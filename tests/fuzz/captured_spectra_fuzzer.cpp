// Fuzz target: the captured-spectra reader (rootopt::make_captured_family, behind
// `--family captured:file=...` and `tune --matrices`). The input does not go to HDF5's own file
// parser (damaged HDF5 files are the table fuzzer's subject) but describes the datasets of a
// valid file this target writes: their element types, ranks, extents (small and written, or
// beyond the limits, declared but never written), group depth and raw value bits (any NaN,
// infinity, subnormal or sign). An accepted file must give spectra with the documented properties.
#include <hdf5.h>

#include <cmath>
#include <cstdlib>
#include <cstring>
#include <vector>

#include "fuzz_support.h"
#include "rootopt/spectrum_family.h"

namespace {

// Consumes the fuzz input; zeros once it runs out.
class Input {
 public:
  Input(const uint8_t* data, size_t size) : data_(data), size_(size) {}
  uint8_t byte() { return size_ > 0 ? (--size_, *data_++) : 0; }
  template <typename T>
  T value() {
    unsigned char bits[sizeof(T)];
    for (unsigned char& b : bits) b = byte();
    T v;
    std::memcpy(&v, bits, sizeof(T));
    return v;
  }

 private:
  const uint8_t* data_;
  size_t size_;
};

// Closes an HDF5 id when it goes out of scope (the target's own writer; failures just skip).
struct Handle {
  hid_t id;
  herr_t (*close)(hid_t);
  ~Handle() {
    if (id >= 0) close(id);
  }
};

template <typename T>
void write_values(hid_t dataset, hid_t memory_type, hsize_t count, Input& in) {
  std::vector<T> values(count);
  for (T& v : values) v = in.value<T>();
  H5Dwrite(dataset, memory_type, H5S_ALL, H5S_ALL, H5P_DEFAULT, values.data());
}

// One dataset described by the input, below /g0/g1/... (depth from the input).
void add_dataset(hid_t file, int index, Input& in) {
  static const hid_t kFileTypes[] = {H5T_IEEE_F64LE, H5T_IEEE_F32LE, H5T_STD_I64LE};
  const int kind = in.byte() % 3;
  const int rank = in.byte() % 4;
  std::vector<hsize_t> dims(static_cast<size_t>(rank));
  hsize_t count = 1;
  // A dataset's extents are either small (0..15, written) or all declared only and beyond the
  // reader's limits (a 1-D dimension above 2^24, or 2^30 values and more), never merely large:
  // an accepted 2^24-value spectrum or 2^21 x 10 matrix costs its read and SVD (seconds), which
  // is not a finding. The first extent's top bit chooses.
  bool declared_only = false;
  for (size_t i = 0; i < dims.size(); ++i) {
    const uint8_t b = in.byte();
    if (i == 0) declared_only = (b & 0x80) != 0;
    dims[i] =
        declared_only ? hsize_t{1} << ((rank == 1 ? 25 : 15) + (b & 0x3f) % 38) : hsize_t(b & 0x0f);
    count *= dims[i];
  }
  std::string name;
  for (int depth = in.byte() % 3; depth > 0; --depth) {
    name += "/g" + std::to_string(depth);
    H5Gclose(H5Gcreate2(file, name.c_str(), H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT));
  }
  name += "/d" + std::to_string(index);
  const Handle space{
      rank == 0 ? H5Screate(H5S_SCALAR) : H5Screate_simple(rank, dims.data(), nullptr), H5Sclose};
  if (space.id < 0) return;
  // Huge extents need chunked storage, which HDF5 allocates only on write: never written here.
  const Handle props{H5Pcreate(H5P_DATASET_CREATE), H5Pclose};
  if (declared_only && count > 0) {
    std::vector<hsize_t> chunk(dims.size());
    for (size_t i = 0; i < dims.size(); ++i) chunk[i] = dims[i] < 4096 ? dims[i] : 4096;
    H5Pset_chunk(props.id, rank, chunk.data());
  }
  const Handle dataset{H5Dcreate2(file, name.c_str(), kFileTypes[kind], space.id, H5P_DEFAULT,
                                  props.id, H5P_DEFAULT),
                       H5Dclose};
  if (dataset.id < 0 || declared_only || count == 0) return;
  if (kind == 0) write_values<double>(dataset.id, H5T_NATIVE_DOUBLE, count, in);
  if (kind == 1) write_values<float>(dataset.id, H5T_NATIVE_FLOAT, count, in);
  if (kind == 2) write_values<int64_t>(dataset.id, H5T_NATIVE_INT64, count, in);
}

void check_spectrum(const rootopt::Spectrum& s, rootopt::Shape shape) {
  if (int64_t(s.size()) != shape.rank()) std::abort();
  double sum = 0;
  for (size_t i = 0; i < s.size(); ++i) {
    if (!std::isfinite(s[i]) || s[i] < 0 || (i > 0 && s[i] > s[i - 1])) std::abort();
    sum += s[i] * s[i];
  }
  if (std::abs(sum - 1) > 1e-12) std::abort();  // fp64 normalisation of a few values
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  H5Eset_auto2(H5E_DEFAULT, nullptr, nullptr);
  rootopt::fuzz::TempFile file(nullptr, 0, ".h5");
  {
    const Handle out{H5Fcreate(file.path().c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT),
                     H5Fclose};
    if (out.id < 0) std::abort();
    Input in(data, size);
    const int datasets = in.byte() % 5;
    for (int i = 0; i < datasets; ++i) add_dataset(out.id, i, in);
  }
  rootopt::fuzz::expect_clean([&] {
    const auto family = rootopt::make_captured_family({file.path()});
    for (const rootopt::Shape shape : {rootopt::Shape{1, 1}, rootopt::Shape{5, 3}})
      for (uint64_t seed = 0; seed < 3; ++seed) check_spectrum(family->sample(shape, seed), shape);
  });
  return 0;
}
