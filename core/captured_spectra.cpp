// The "captured" family: singular-value spectra of real momentum buffers, captured during
// training (tools/capture_spectra.py) and shipped in data/spectra/<set>/*.h5.
#include <Eigen/Core>
#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <random>

#include "captured_family.h"
#include "check.h"
#include "family_registry.h"
#include "h5.h"
#include "lapack_svd.h"
#include "matrix_extents.h"
#include "shipped_files.h"
#include "text_split.h"

namespace rootopt {
namespace {

// Spectra grouped by source: the `model_id` attribute tools/capture_spectra.py writes into each
// file (one model may span files: runs with other optimizers or later steps), else the file.
struct CapturedSpectra {
  std::vector<Spectrum> spectra;               // normalised, descending
  std::vector<std::string> names;              // "<file>:<dataset>"
  std::vector<std::string> sources;            // distinct sources, in order of first appearance
  std::vector<std::vector<size_t>> by_source;  // indices into `spectra`, per source
};

std::string source_of(hid_t file, const std::string& path) {
  if (h5::has_attribute(file, "model_id") &&
      h5::attribute_type_class(file, "model_id", path) == H5T_STRING)
    // tools/capture_spectra.py (h5py) writes it as a Python str: variable-length.
    return h5::read_string_attribute(file, "model_id", path, h5::StringStorage::fixed_or_variable);
  return path;
}

// Every 1-D float dataset is one spectrum; every 2-D float dataset a matrix whose spectrum is
// computed (HDF5 stores row-major: dims[0] rows, dims[1] columns).
void read_spectra(const std::string& path, CapturedSpectra& out) {
  const h5::Id file = h5::open_file(path);
  const std::string source = source_of(file, path);
  auto known = std::find(out.sources.begin(), out.sources.end(), source);
  if (known == out.sources.end()) {
    out.sources.push_back(source);
    out.by_source.emplace_back();
    known = out.sources.end() - 1;
  }
  std::vector<size_t>& members = out.by_source[size_t(known - out.sources.begin())];
  for (const std::string& name : h5::list_datasets(file)) {
    const h5::Id dataset = h5::open_dataset(file, name, path);
    if (h5::type_class(dataset) != H5T_FLOAT) continue;
    const std::vector<hsize_t> extents = h5::dims(dataset);
    if (extents.size() != 1 && extents.size() != 2) continue;
    const std::string what = path + ":" + name;
    detail::check_matrix_extents(extents, what);
    std::vector<double> values = h5::read_doubles(dataset, what);
    if (values.empty()) continue;
    for (double v : values) ROOTOPT_CHECK(std::isfinite(v), what, " holds a non-finite value");
    if (extents.size() == 2) {
      const Eigen::MatrixXd matrix =
          Eigen::Map<const Eigen::Matrix<double, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>>(
              values.data(), Eigen::Index(extents[0]), Eigen::Index(extents[1]));
      values = detail::lapack_singular_values(matrix);
    }
    for (double& v : values) v = std::abs(v);  // singular values; a stray sign is not an error
    try {
      out.spectra.push_back(normalised_spectrum(std::move(values)));
    } catch (const Error& e) {
      ROOTOPT_FAIL(what, ": not a usable spectrum: ", e.what());
    }
    out.names.push_back(what);
    members.push_back(out.spectra.size() - 1);
  }
}

class CapturedFamily final : public SpectrumFamily {
 public:
  CapturedFamily(std::string spec, const std::vector<std::string>& files) : spec_(std::move(spec)) {
    ROOTOPT_CHECK(!files.empty(), "captured family '", spec_, "': no files");
    auto data = std::make_shared<CapturedSpectra>();
    for (const std::string& path : files) read_spectra(path, *data);
    ROOTOPT_CHECK(!data->spectra.empty(), "captured family '", spec_,
                  "': no 1-D or 2-D float dataset in ", files.front(),
                  files.size() > 1 ? " and the other files" : "");
    // A source whose files held no spectrum is dropped, so every source can be drawn.
    for (size_t i = data->sources.size(); i-- > 0;) {
      if (!data->by_source[i].empty()) continue;
      data->sources.erase(data->sources.begin() + std::ptrdiff_t(i));
      data->by_source.erase(data->by_source.begin() + std::ptrdiff_t(i));
    }
    data_ = std::move(data);
    for (size_t i = 0; i < data_->sources.size(); ++i) drawn_.push_back(i);
  }
  // One source of `whole`, sharing its spectra.
  CapturedFamily(const CapturedFamily& whole, size_t source)
      : spec_(whole.spec_ + " [source " + whole.data_->sources[source] + "]"),
        data_(whole.data_),
        drawn_{source} {}

  std::string name() const override { return "captured"; }
  FamilyParams params() const override {
    size_t spectra = 0;
    for (size_t i : drawn_) spectra += data_->by_source[i].size();
    return {{"spectra", double(spectra)}, {"sources", double(drawn_.size())}};
  }
  std::string spec() const override { return spec_; }
  Spectrum sample(Shape shape, uint64_t seed) const override {
    ROOTOPT_CHECK(shape.rank() > 0, "captured: shape with a zero dimension: ", to_string(shape));
    // A source first, then one of its spectra: every model weighs the same, however many
    // spectra its capture run stored (one run would otherwise dominate the mixture).
    std::mt19937_64 rng(seed);
    const std::vector<size_t>& members =
        data_->by_source[drawn_[std::uniform_int_distribution<size_t>(0, drawn_.size() - 1)(rng)]];
    const size_t pick = members[std::uniform_int_distribution<size_t>(0, members.size() - 1)(rng)];
    return rescale_spectrum(data_->spectra[pick], shape.rank());
  }
  std::vector<std::shared_ptr<const SpectrumFamily>> sources() const override {
    std::vector<std::shared_ptr<const SpectrumFamily>> out;
    if (drawn_.size() > 1)
      for (size_t i : drawn_) out.push_back(std::make_shared<CapturedFamily>(*this, i));
    return out;
  }

 private:
  std::string spec_;
  std::shared_ptr<const CapturedSpectra> data_;
  std::vector<size_t> drawn_;  // the sources a sample draws from (indices into data_->sources)
};

std::vector<std::string> set_files(const std::string& set) {
  ROOTOPT_CHECK(!set.empty() && set.find('/') == std::string::npos && set != "..",
                "captured: invalid set name '", set, "'");
  const std::filesystem::path dir = std::filesystem::path(data_directory()) / "spectra" / set;
  std::vector<std::string> files;
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator(dir, ec))
    if (entry.is_regular_file() && entry.path().extension() == ".h5")
      files.push_back(entry.path().string());
  std::sort(files.begin(), files.end());
  ROOTOPT_CHECK(!files.empty(), "captured: no *.h5 spectra in ", dir.string(),
                " (set ROOTOPT_DATA_DIR, or use captured:file=PATH)");
  return files;
}

}  // namespace

std::string data_directory() {
  if (const char* env = std::getenv("ROOTOPT_DATA_DIR"); env && *env) return env;
  return detail::shipped_path("data", "");
}

std::unique_ptr<SpectrumFamily> make_captured_family(const std::vector<std::string>& files,
                                                     const FamilyParams& params) {
  detail::merge_params("captured", {}, params);  // no numeric parameters: rejects any key
  if (files.empty()) return std::make_unique<CapturedFamily>("captured:set=fit", set_files("fit"));
  std::string spec = "captured:file=";
  for (size_t i = 0; i < files.size(); ++i) spec += (i ? ";" : "") + files[i];
  return std::make_unique<CapturedFamily>(spec, files);
}

namespace detail {

std::unique_ptr<SpectrumFamily> make_captured_from_options(
    const std::map<std::string, std::string>& options, const FamilyParams& params) {
  merge_params("captured", {}, params);
  ROOTOPT_CHECK(!(options.count("set") && options.count("file")),
                "captured: give either set= or file=, not both");
  if (options.count("file")) return make_captured_family(split(options.at("file"), ';'), params);
  const std::string set = options.count("set") ? options.at("set") : "fit";
  return std::make_unique<CapturedFamily>("captured:set=" + set, set_files(set));
}

}  // namespace detail
}  // namespace rootopt
