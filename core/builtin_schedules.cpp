// Built-in schedules: published coefficient sets, transcribed from
// ../shared/reference/coefficients.md (sources cited per set below).
#include <cmath>
#include <map>

#include "check.h"
#include "rootopt/schedule.h"

namespace rootopt {
namespace {

// KellerJordan/Muon muon.py; torch.optim.Muon default.
constexpr QuinticStep kMuon{3.4445, -4.7750, 2.0315};

// Polar Express degree-5 list (Amsel et al., arXiv 2505.16932; NoahAmsel/PolarExpress
// polar_express/basic.py) as that code deploys it: every triple but the last divided by the
// safety factor 1.01, (a/1.01, b/1.01^3, c/1.01^5). The raw list is safe on [0, 1] but its
// composed map has slope ~7e4 near s = 1 and explodes for s >= 1.01, which bf16 rounding reaches
// (measured: a 7x300 bf16 update 1.7e5 times too large). Their extra 1.01 in the normalisation
// is not applied: X0 = B/||B||_F is common to all schedules.
const std::vector<QuinticStep>& polar_express_steps() {
  static const std::vector<QuinticStep> steps = [] {
    constexpr double kSafety = 1.01;
    std::vector<QuinticStep> published{
        {8.28721201814563, -23.595886519098837, 17.300387312530933},
        {4.107059111542203, -2.9478499167379106, 0.5448431082926601},
        {3.9486908534822946, -2.908902115962949, 0.5518191394370137},
        {3.3184196573706015, -2.488488024314874, 0.51004894012372},
        {2.300652019954817, -1.6689039845747493, 0.4188073119525673},
        {1.891301407787398, -1.2679958271945868, 0.37680408948524835},
        {1.8750014808534479, -1.2500016453999487, 0.3750001645474248},
        {1.875, -1.25, 0.375}};
    for (size_t k = 0; k + 1 < published.size(); ++k)
      published[k] = with_input_scale(published[k], kSafety);
    return published;
  }();
  return steps;
}

// You Jiacheng's 5-step set (NVIDIA Emerging-Optimizers default "quintic").
const std::vector<QuinticStep>& you_steps() {
  static const std::vector<QuinticStep> steps{{4.0848, -6.8946, 2.9270},
                                              {3.9505, -6.3029, 2.6377},
                                              {3.7418, -5.5913, 2.3037},
                                              {2.8769, -3.1427, 1.2046},
                                              {2.8366, -3.0525, 1.2012}};
  return steps;
}

// ROOT paper (arXiv 2511.20626), huawei-noah/noah-research ROOT/examples/example_train.py:
// one triple per canonical shape (min, max), used for every step.
const std::map<Shape, QuinticStep>& root_paper_triples() {
  static const std::map<Shape, QuinticStep> triples{{{2048, 2048}, {3.4916, -4.8224, 2.1095}},
                                                    {{2048, 3072}, {3.4509, -4.5790, 1.9325}},
                                                    {{2048, 8192}, {2.9794, -3.6674, 1.6207}},
                                                    {{2048, 16384}, {3.1943, -3.8221, 1.5322}}};
  return triples;
}

}  // namespace

std::vector<Shape> root_paper_shapes() {
  std::vector<Shape> shapes;
  for (const auto& [shape, triple] : root_paper_triples()) shapes.push_back(shape);
  return shapes;
}

std::vector<std::string> builtin_schedule_names() {
  return {"muon", "polar-express", "you", "root-paper"};
}

Schedule builtin_schedule(const std::string& name, Shape shape, int64_t steps) {
  ROOTOPT_CHECK(steps > 0, "builtin schedule '", name, "': step count must be positive, got ",
                steps);
  if (name == "muon") return Schedule::shared(name, kMuon, steps);
  if (name == "polar-express") return Schedule(name, polar_express_steps()).with_steps(steps);
  if (name == "you") return Schedule(name, you_steps()).with_steps(steps);
  if (name == "root-paper") {
    const auto& triples = root_paper_triples();
    const auto it = triples.find(shape.canonical());
    return Schedule::shared(name, it == triples.end() ? kMuon : it->second, steps);
  }
  ROOTOPT_FAIL("unknown schedule '", name, "' (built-ins: muon, polar-express, you, root-paper)");
}

bool builtin_is_published_for(const std::string& name, Shape shape) {
  if (name == "root-paper") return root_paper_triples().count(shape.canonical()) > 0;
  builtin_schedule(name, shape);  // throws on an unknown name
  return true;
}

}  // namespace rootopt
