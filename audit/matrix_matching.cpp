#include "matrix_matching.h"

#include <algorithm>

#include "check.h"
#include "h5.h"
#include "text_split.h"

namespace rootopt::audit {
namespace {

bool component_matches(std::string component, const std::vector<std::string>& pattern) {
  const std::string suffix = ".weight";
  if (component.size() > suffix.size() &&
      component.compare(component.size() - suffix.size(), suffix.size(), suffix) == 0)
    component.resize(component.size() - suffix.size());
  const std::vector<std::string> segments = detail::split(component, '.');
  if (segments.size() == 1 && segments[0].empty()) return false;
  auto s = segments.rbegin();
  auto p = pattern.rbegin();
  for (; s != segments.rend() && p != pattern.rend(); ++s, ++p)
    if (s->empty() || (*p != "*" && *p != *s)) return false;
  return true;
}

// Every dataset in the file must be a 2-D floating-point array: anything else is reported here,
// by name, before reading values.
void check_datasets(const std::string& path) {
  h5::SilenceErrors silence;
  const h5::Id file = h5::open_file(path);
  const std::vector<std::string> names = h5::list_datasets(file);
  ROOTOPT_CHECK(!names.empty(), "--matrices file ", path, " holds no dataset");
  for (const std::string& name : names) {
    const h5::Id dataset = h5::open_dataset(file, name, path);
    const std::vector<hsize_t> dims = h5::dims(dataset);
    std::string extent;
    for (hsize_t d : dims) extent += (extent.empty() ? "" : "x") + std::to_string(d);
    ROOTOPT_CHECK(dims.size() == 2, "dataset '", name, "' in ", path, " has ", dims.size(),
                  " dimensions (", extent, "); --matrices needs one 2-D matrix per dataset");
    ROOTOPT_CHECK(dims[0] > 0 && dims[1] > 0, "dataset '", name, "' in ", path, " is empty (",
                  extent, ")");
    ROOTOPT_CHECK(h5::type_class(dataset) == H5T_FLOAT, "dataset '", name, "' in ", path,
                  " is not floating point");
  }
}

std::vector<int64_t> match_dataset(const NamedMatrix& m, const ModelConfig& model,
                                   const std::string& path) {
  const Shape shape{int64_t(m.values.rows()), int64_t(m.values.cols())};
  const std::string where = "dataset '" + m.name + "' (" + to_string(shape) + ") in " + path;
  std::vector<int64_t> by_name, by_shape, by_key;
  for (size_t w = 0; w < model.weights.size(); ++w) {
    const ModelWeight& weight = model.weights[w];
    if (dataset_matches_pattern(m.name, weight.pattern)) by_name.push_back(int64_t(w));
    if (weight.adamw) continue;
    if (weight.shape == shape) by_shape.push_back(int64_t(w));
    if (weight.key() == shape.canonical()) by_key.push_back(int64_t(w));
  }
  if (by_name.empty()) {
    ROOTOPT_CHECK(!by_key.empty(), where, " matches no layer of model '", model.name,
                  "' by name or by shape (see `rootopt shapes`)");
    return by_shape.empty() ? by_key : by_shape;
  }
  std::vector<int64_t> fitting;
  std::string expected;
  for (int64_t w : by_name) {
    const ModelWeight& weight = model.weights[size_t(w)];
    expected += (expected.empty() ? "" : ", ") + weight.pattern + " " + to_string(weight.shape);
    if (weight.key() == shape.canonical()) fitting.push_back(w);
  }
  ROOTOPT_CHECK(!fitting.empty(), where, " matches layer ", expected,
                " by name, but not its shape");
  ROOTOPT_CHECK(fitting.size() == 1, where, " matches several layers by name: ", expected,
                "; use a longer name");
  const ModelWeight& weight = model.weights[size_t(fitting[0])];
  ROOTOPT_CHECK(!weight.adamw, where, " matches ", weight.pattern,
                ", which is left to AdamW and not orthogonalized");
  return fitting;
}

}  // namespace

bool dataset_matches_pattern(const std::string& dataset, const std::string& pattern) {
  const std::vector<std::string> pattern_segments = detail::split(pattern, '.');
  for (const std::string& component : detail::split(dataset, '/'))
    if (component_matches(component, pattern_segments)) return true;
  return false;
}

std::string describe_datasets(const UserMatrices& user, const std::vector<int64_t>& datasets) {
  std::string text = "matrices:";
  const size_t shown = std::min<size_t>(datasets.size(), 3);
  for (size_t i = 0; i < shown; ++i) text += " " + user.matrices[size_t(datasets[i])].name;
  if (datasets.size() > shown) text += " (+" + std::to_string(datasets.size() - shown) + " more)";
  return text;
}

UserMatrices load_user_matrices(const std::string& path, const ModelConfig& model) {
  check_datasets(path);
  UserMatrices out;
  out.matrices = read_matrices(path);
  out.by_weight.resize(model.weights.size());
  for (size_t i = 0; i < out.matrices.size(); ++i)
    for (int64_t w : match_dataset(out.matrices[i], model, path))
      out.by_weight[size_t(w)].push_back(int64_t(i));
  return out;
}

}  // namespace rootopt::audit
