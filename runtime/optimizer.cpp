// rootopt::Optimizer: the table, validation, fallback warnings, the step count and state files.
// The math and the memory live in a Backend (cpu/, cuda/).
#include "rootopt/optimizer.h"

#include <algorithm>
#include <cmath>
#include <iostream>
#include <map>
#include <set>

#include "backend.h"
#include "check.h"
#include "parallel.h"
#include "rootopt/bf16.h"
#include "state_file.h"
#include "validation.h"

namespace rootopt {

RecipeLookup resolve_recipe(const CoefficientTable* table, const FallbackPolicy& fallback,
                            Shape shape) {
  if (table != nullptr) return table->lookup(shape, fallback);
  RecipeLookup lookup;
  lookup.recipe = named_fallback_recipe(fallback, shape);
  lookup.requested = shape;
  lookup.source = shape.canonical();
  lookup.origin = RecipeLookup::Origin::named;
  return lookup;
}

struct Optimizer::Impl {
  OptimizerConfig config;
  std::shared_ptr<const CoefficientTable> table;  // null: no table, every shape uses the fallback
  Hyperparams hyperparams;
  std::vector<ParamSpec> specs;
  std::vector<RecipeLookup> lookups;
  std::map<std::string, int64_t> ids;
  std::set<Shape> warned_shapes;   // canonical shapes already warned about
  std::set<Shape> warned_recipes;  // table shapes whose recipe's warning was printed
  std::unique_ptr<detail::Backend> backend;
  int64_t steps = 0;
  bool stepped = false;  // a step ran since construction or the last load_state

  void warn(const std::string& message) const {
    if (config.warn) {
      config.warn(message);
    } else {
      std::cerr << "rootopt: " << message << '\n';
    }
  }

  RecipeLookup resolve(Shape shape) const {
    return resolve_recipe(table.get(), config.fallback, shape);
  }

  int64_t checked_id(int64_t id, const char* what) const {
    ROOTOPT_CHECK(id >= 0 && id < int64_t(specs.size()), what, ": parameter id ", id,
                  " is not registered (", specs.size(), " parameters)");
    return id;
  }

  // Why the CPU backend skipped parameter `id` (reads the host memory of gradient and momentum).
  // A non-finite momentum can only come from the caller's own buffer (add_param, rebind):
  // set_momentum and load_state refuse one. It blocks every later step until replaced, so it must
  // not be reported as a bad gradient.
  std::string skip_reason(int64_t id) const {
    const std::vector<float> momentum = backend->read_momentum(id);
    if (!std::all_of(momentum.begin(), momentum.end(), [](float v) { return std::isfinite(v); })) {
      return "its momentum holds NaN or Inf (the momentum buffer given to add_param or rebind; "
             "every step skips it until it is replaced)";
    }
    const ParamSpec& s = specs[size_t(id)];
    for (int64_t i = 0; i < element_count(id); ++i) {
      const float g = s.dtype == DType::fp32
                          ? static_cast<const float*>(s.grad)[i]
                          : bf16_bits_to_float(static_cast<const uint16_t*>(s.grad)[i]);
      if (!std::isfinite(g)) return "its gradient holds NaN or Inf";
    }
    return "its momentum, Nesterov direction or new weights would not be finite (e.g. a damaged "
           "table coefficient made the Newton-Schulz result overflow)";
  }

  int64_t element_count(int64_t id) const {
    const ParamSpec& s = specs[size_t(id)];
    return s.batch * s.rows * s.cols;
  }
};

Optimizer::Optimizer(const OptimizerConfig& config) : impl_(std::make_unique<Impl>()) {
  Impl& d = *impl_;
  d.config = config;
  detail::validate_hyperparams(config.hyperparams);
  ROOTOPT_CHECK(config.cpu_threads >= 0, "cpu_threads = ", config.cpu_threads,
                " must be >= 0 (0: one per hardware thread)");
  d.hyperparams = config.hyperparams;
  if (config.table) {
    d.table = config.table;
  } else if (!config.table_path.empty()) {
    d.table = std::make_shared<const CoefficientTable>(CoefficientTable::load(config.table_path));
  } else {
    ROOTOPT_CHECK(config.fallback.kind != FallbackPolicy::Kind::error,
                  "no coefficient table given (table_path is empty) and the fallback policy is "
                  "'error': every shape would fail");
  }
  if (!d.table || config.fallback.kind == FallbackPolicy::Kind::named) {
    // Fails early on an unknown built-in name rather than at the first add_param.
    (void)named_fallback_recipe(config.fallback, Shape{1, 1});
  }
  switch (config.device) {
    case Device::cpu:
      d.backend = detail::make_cpu_backend(detail::worker_count(config.cpu_threads));
      break;
    case Device::cuda:
      d.backend = detail::make_cuda_backend();
      break;
    default:
      ROOTOPT_FAIL("device has invalid value ", static_cast<int>(config.device));
  }
}

Optimizer::~Optimizer() = default;

int64_t Optimizer::add_param(const ParamSpec& spec) {
  Impl& d = *impl_;
  detail::validate_param_spec(spec, "add_param");
  ROOTOPT_CHECK(d.ids.count(spec.name) == 0, "add_param: a parameter named '", spec.name,
                "' is already registered (id ", d.ids.at(spec.name), ")");
  const Shape shape{spec.rows, spec.cols};
  RecipeLookup lookup = d.resolve(shape);
  const int64_t id = int64_t(d.specs.size());
  d.specs.reserve(d.specs.size() + 1);
  d.lookups.reserve(d.lookups.size() + 1);
  d.backend->add(id, detail::ParamEntry{spec, lookup.recipe});
  // Registered in the backend: only bookkeeping follows.
  d.specs.push_back(spec);
  d.ids.emplace(spec.name, id);
  const std::string table = d.config.table_path.empty()
                                ? "coefficient table"
                                : "coefficient table " + d.config.table_path;
  if (lookup.origin != RecipeLookup::Origin::exact &&
      d.warned_shapes.insert(shape.canonical()).second) {
    const std::string what = "shape " + to_string(shape) + " (first: '" + spec.name + "')";
    d.warn(d.table ? what + " is not in the " + table + "; using " + lookup.description()
                   : "no coefficient table: " + what + " uses " + lookup.description());
  }
  // A loadable but suspicious table recipe (CoefficientTable::warning), once per table shape.
  if (d.table && lookup.origin != RecipeLookup::Origin::named &&
      d.warned_recipes.insert(lookup.source).second) {
    const std::string problem = d.table->warning(*d.table->find(lookup.source));
    if (!problem.empty())
      d.warn(table + ": the recipe for " + to_string(lookup.source) + " (first used by '" +
             spec.name + "'): " + problem);
  }
  d.lookups.push_back(std::move(lookup));
  return id;
}

void Optimizer::rebind(int64_t id, const ParamSpec& spec) {
  Impl& d = *impl_;
  d.checked_id(id, "rebind");
  detail::validate_rebind(d.specs[size_t(id)], spec);
  d.backend->rebind(id, spec);
  ParamSpec& registered = d.specs[size_t(id)];
  registered.param = spec.param;
  registered.grad = spec.grad;
  if (spec.momentum != nullptr) registered.momentum = spec.momentum;
}

int64_t Optimizer::num_params() const { return int64_t(impl_->specs.size()); }

const ParamSpec& Optimizer::param(int64_t id) const {
  return impl_->specs[size_t(impl_->checked_id(id, "param"))];
}

const RecipeLookup& Optimizer::recipe(int64_t id) const {
  return impl_->lookups[size_t(impl_->checked_id(id, "recipe"))];
}

void Optimizer::set_hyperparams(const Hyperparams& hyperparams) {
  detail::validate_hyperparams(hyperparams);
  impl_->hyperparams = hyperparams;
}

const Hyperparams& Optimizer::hyperparams() const { return impl_->hyperparams; }

void Optimizer::step(void* stream) {
  Impl& d = *impl_;
  d.backend->step(d.hyperparams, stream);
  ++d.steps;
  d.stepped = true;
  // On the CPU the skipped list is free to read; on CUDA reading it would synchronise, so the
  // caller asks last_report() instead.
  if (d.config.device == Device::cpu) {
    for (const int64_t id : d.backend->skipped_last_step()) {
      d.warn("step " + std::to_string(d.steps) + ": parameter '" + d.specs[size_t(id)].name +
             "' skipped: " + d.skip_reason(id) + " (momentum and weights untouched)");
    }
  }
}

StepReport Optimizer::last_report() const {
  const Impl& d = *impl_;
  StepReport report;
  report.step = d.steps;
  if (!d.stepped) return report;
  for (const int64_t id : d.backend->skipped_last_step()) {
    report.skipped.push_back(d.specs[size_t(id)].name);
  }
  return report;
}

void Optimizer::save_state(const std::string& path) const {
  const Impl& d = *impl_;
  detail::OptimizerState state;
  state.step = d.steps;
  for (int64_t id = 0; id < num_params(); ++id) {
    const ParamSpec& s = d.specs[size_t(id)];
    state.momentum.push_back({s.name, s.batch, s.rows, s.cols, d.backend->read_momentum(id)});
  }
  detail::write_state_file(path, state);
}

void Optimizer::load_state(const std::string& path) {
  Impl& d = *impl_;
  // The reader checks the file against the registrations before reading any momentum.
  std::vector<detail::MomentumRecord> registered;
  for (const ParamSpec& s : d.specs) registered.push_back({s.name, s.batch, s.rows, s.cols, {}});
  const detail::OptimizerState state = detail::read_state_file(path, registered);
  for (const detail::MomentumRecord& record : state.momentum)
    d.backend->write_momentum(d.ids.at(record.name), record.values);
  d.steps = state.step;
  d.stepped = false;
}

std::vector<float> Optimizer::momentum(int64_t id) const {
  return impl_->backend->read_momentum(impl_->checked_id(id, "momentum"));
}

void Optimizer::set_momentum(int64_t id, const std::vector<float>& values) {
  Impl& d = *impl_;
  d.checked_id(id, "set_momentum");
  const std::string& name = d.specs[size_t(id)].name;
  ROOTOPT_CHECK(int64_t(values.size()) == d.element_count(id), "set_momentum '", name,
                "': expected ", d.element_count(id), " values, got ", values.size());
  for (size_t i = 0; i < values.size(); ++i) {
    ROOTOPT_CHECK(std::isfinite(values[i]), "set_momentum '", name,
                  "': non-finite value at element ", i);
  }
  d.backend->write_momentum(id, values);
}

bool Optimizer::cuda_available() { return detail::cuda_device_present(); }

}  // namespace rootopt
