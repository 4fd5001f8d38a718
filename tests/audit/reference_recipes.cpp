#include "reference_recipes.h"

#include <Eigen/SVD>
#include <algorithm>
#include <cmath>
#include <map>
#include <stdexcept>

namespace rootopt::test {
namespace {

const Triple kMuon{3.4445, -4.7750, 2.0315};

// Polar Express's published list as its code deploys it: every triple but the last of the list
// divided by the safety factor 1.01 (a/1.01, b/1.01^3, c/1.01^5); steps beyond it repeat the last.
std::vector<Triple> polar_express(int steps) {
  const std::vector<Triple> published{{8.28721201814563, -23.595886519098837, 17.300387312530933},
                                      {4.107059111542203, -2.9478499167379106, 0.5448431082926601},
                                      {3.9486908534822946, -2.908902115962949, 0.5518191394370137},
                                      {3.3184196573706015, -2.488488024314874, 0.51004894012372},
                                      {2.300652019954817, -1.6689039845747493, 0.4188073119525673},
                                      {1.891301407787398, -1.2679958271945868, 0.37680408948524835},
                                      {1.8750014808534479, -1.2500016453999487, 0.3750001645474248},
                                      {1.875, -1.25, 0.375}};
  std::vector<Triple> out;
  for (int k = 0; k < steps; ++k) {
    const size_t i = std::min<size_t>(size_t(k), published.size() - 1);
    Triple t = published[i];
    if (i + 1 < published.size())
      t = {t[0] / 1.01, t[1] / (1.01 * 1.01 * 1.01), t[2] / std::pow(1.01, 5)};
    out.push_back(t);
  }
  return out;
}

std::vector<Triple> repeat_last(std::vector<Triple> steps, int count) {
  while (int(steps.size()) < count) steps.push_back(steps.back());
  steps.resize(size_t(count));
  return steps;
}

}  // namespace

ReferenceRecipe reference_recipe(const std::string& name, Shape key, int steps) {
  if (name == "muon") return {std::vector<Triple>(size_t(steps), kMuon), 2};
  if (name == "polar-express") return {polar_express(steps), 2};
  if (name == "polar-express-schatten8") return {polar_express(steps), 8};
  if (name == "you")
    return {repeat_last({{4.0848, -6.8946, 2.9270},
                         {3.9505, -6.3029, 2.6377},
                         {3.7418, -5.5913, 2.3037},
                         {2.8769, -3.1427, 1.2046},
                         {2.8366, -3.0525, 1.2012}},
                        steps),
            2};
  if (name == "turbo-muon")  // NVIDIA Emerging-Optimizers' "aol" set
    return {{{4.0098, -7.0585, 2.4635},
             {3.4585, -5.5479, 2.5959},
             {2.7573, -3.2939, 1.4254},
             {2.7215, -3.0494, 1.3169}},
            0};
  if (name == "root-paper") {
    const std::map<std::pair<int64_t, int64_t>, Triple> root{
        {{2048, 2048}, {3.4916, -4.8224, 2.1095}},
        {{2048, 3072}, {3.4509, -4.5790, 1.9325}},
        {{2048, 8192}, {2.9794, -3.6674, 1.6207}},
        {{2048, 16384}, {3.1943, -3.8221, 1.5322}}};
    const auto it = root.find({key.rows, key.cols});
    return {std::vector<Triple>(size_t(steps), it == root.end() ? kMuon : it->second), 2};
  }
  throw std::invalid_argument("no reference for schedule " + name);
}

double reference_map(const std::vector<Triple>& steps, double x) {
  for (const Triple& t : steps) x = t[0] * x + t[1] * x * x * x + t[2] * x * x * x * x * x;
  return x;
}

std::vector<double> reference_normalized(const std::vector<double>& s, int p) {
  if (p == 2) return s;
  double sum = 0;
  for (double v : s) sum += std::pow(v, p);
  const double norm = std::pow(sum, 1.0 / p);
  std::vector<double> out;
  for (double v : s) out.push_back(v / norm);
  return out;
}

ReferenceErrors reference_spectral(const ReferenceRecipe& recipe,
                                   const std::vector<std::vector<double>>& spectra) {
  if (recipe.schatten == 0) throw std::invalid_argument("AOL has no spectral reference");
  ReferenceErrors e;
  for (const std::vector<double>& frobenius : spectra) {
    double sum = 0;
    const std::vector<double> s = reference_normalized(frobenius, recipe.schatten);
    for (double v : s) {
      const double p = reference_map(recipe.steps, v);
      sum += (p - 1) * (p - 1);
      e.max_dev = std::max(e.max_dev, std::abs(p - 1));
      e.min = std::min(e.min, p), e.max = std::max(e.max, p);
    }
    e.rms += std::sqrt(sum / double(s.size())) / double(spectra.size());
  }
  return e;
}

std::vector<double> reference_spectrum(const Eigen::MatrixXd& b) {
  Eigen::VectorXd s = Eigen::JacobiSVD<Eigen::MatrixXd>(b).singularValues();
  s /= s.norm();
  return {s.data(), s.data() + s.size()};
}

Eigen::MatrixXd reference_polar(const Eigen::MatrixXd& b) {
  const Eigen::JacobiSVD<Eigen::MatrixXd> svd(b, Eigen::ComputeThinU | Eigen::ComputeThinV);
  return svd.matrixU() * svd.matrixV().transpose();
}

Eigen::MatrixXd reference_aol(const Eigen::MatrixXd& b) {
  Eigen::MatrixXd x = b.rows() > b.cols() ? Eigen::MatrixXd(b.transpose()) : b;
  x /= x.norm();
  const Eigen::MatrixXd gram = x * x.transpose();
  for (Eigen::Index i = 0; i < x.rows(); ++i)
    x.row(i) /= std::sqrt(std::max(gram.row(i).cwiseAbs().sum(), 1e-7));
  return x;
}

Eigen::MatrixXd reference_turbo_muon(const Eigen::MatrixXd& b) {
  const bool tall = b.rows() > b.cols();
  Eigen::MatrixXd x = reference_aol(b);
  for (const Triple& t : reference_recipe("turbo-muon", {1, 1}).steps) {
    const Eigen::MatrixXd a = x * x.transpose();
    x = t[0] * x + (t[1] * a + t[2] * a * a) * x;
  }
  if (tall) x.transposeInPlace();
  return x;
}

double reference_rms(const Eigen::MatrixXd& x, const Eigen::MatrixXd& polar) {
  return (x - polar).norm() / std::sqrt(double(std::min(x.rows(), x.cols())));
}

}  // namespace rootopt::test
