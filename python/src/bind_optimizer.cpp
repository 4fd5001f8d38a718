// rootopt::Optimizer for Python. Pointers and CUDA streams arrive as integers (tensor.data_ptr(),
// torch.cuda.current_stream().cuda_stream); the caller keeps the tensors alive and contiguous.
// Runtime warnings (fallback shapes) are queued and handed to Python by take_warnings(), so no
// Python code runs inside step(), which releases the GIL. A Table is loaded once and shared by
// every Optimizer made from it (rootopt.torch needs one per parameter group and device).
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <cstdint>
#include <memory>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include "bindings.h"
#include "rootopt/optimizer.h"

namespace py = pybind11;

namespace rootopt::python {
namespace {

// The three pointers of a parameter as Python integers (0 = null; momentum null: the runtime
// allocates it).
struct Pointers {
  std::uintptr_t param = 0;
  std::uintptr_t grad = 0;
  std::uintptr_t momentum = 0;
};

void set_pointers(ParamSpec& spec, const Pointers& pointers) {
  spec.param = reinterpret_cast<void*>(pointers.param);
  spec.grad = reinterpret_cast<const void*>(pointers.grad);
  spec.momentum = reinterpret_cast<float*>(pointers.momentum);
}

// A loaded, validated coefficient table, shared (never copied) by the optimizers made from it.
struct PyTable {
  std::string path;
  std::shared_ptr<const CoefficientTable> table;
};

class PyOptimizer {
 public:
  // `table` null: no table, every shape uses the fallback.
  PyOptimizer(const PyTable* table, const FallbackPolicy& fallback, Device device,
              const Hyperparams& hyperparams)
      : warnings_(std::make_shared<std::vector<std::string>>()) {
    OptimizerConfig config;
    if (table != nullptr) {
      config.table_path = table->path;
      config.table = table->table;
    }
    config.fallback = fallback;
    config.device = device;
    config.hyperparams = hyperparams;
    config.warn = [queue = warnings_](const std::string& message) { queue->push_back(message); };
    optimizer_ = std::make_unique<Optimizer>(config);
  }

  int64_t add_param(const std::string& name, int64_t batch, int64_t rows, int64_t cols, DType dtype,
                    const Pointers& pointers) {
    ParamSpec spec;
    spec.name = name;
    spec.batch = batch;
    spec.rows = rows;
    spec.cols = cols;
    spec.dtype = dtype;
    set_pointers(spec, pointers);
    return optimizer_->add_param(spec);
  }

  void rebind(int64_t id, const Pointers& pointers) {
    ParamSpec spec = optimizer_->param(id);
    set_pointers(spec, pointers);
    optimizer_->rebind(id, spec);
  }

  void step(std::uintptr_t stream) {
    py::gil_scoped_release release;
    optimizer_->step(reinterpret_cast<void*>(stream));
  }

  std::vector<std::string> take_warnings() { return std::exchange(*warnings_, {}); }

  Optimizer& get() { return *optimizer_; }

 private:
  std::shared_ptr<std::vector<std::string>> warnings_;
  std::unique_ptr<Optimizer> optimizer_;
};

py::dict describe_schedule(const RecipeLookup& lookup) {
  std::vector<std::tuple<double, double, double>> coefficients;
  for (const QuinticStep& step : lookup.recipe.schedule.steps()) {
    coefficients.emplace_back(step.a, step.b, step.c);
  }
  static const char* const kOrigins[] = {"exact", "nearest", "named"};
  py::dict result;
  result["name"] = lookup.recipe.schedule.name();
  result["recipe"] = lookup.recipe.describe();
  result["steps"] = lookup.recipe.steps();
  result["normalization"] = to_string(lookup.recipe.normalization);
  result["form"] = to_string(lookup.recipe.form);
  result["restarts"] = lookup.recipe.restarts;
  result["tail_steps"] = lookup.recipe.tail_steps;
  result["tail_precision"] = to_string(lookup.recipe.tail_precision);
  result["origin"] = kOrigins[static_cast<int>(lookup.origin)];
  result["source"] = std::make_pair(lookup.source.rows, lookup.source.cols);
  result["description"] = lookup.description();
  result["coefficients"] = coefficients;
  return result;
}

}  // namespace

void bind_optimizer(py::module_& module) {
  py::class_<PyTable>(module, "Table")
      .def(py::init([](const std::string& path) {
             return PyTable{path,
                            std::make_shared<const CoefficientTable>(CoefficientTable::load(path))};
           }),
           py::arg("path"), "Loads and validates a coefficient table (docs/table-format.md).")
      .def_readonly("path", &PyTable::path)
      .def_property_readonly("size", [](const PyTable& self) { return self.table->size(); });
  module.def(
      "resolve_recipe",
      [](const PyTable* table, const FallbackPolicy& fallback, int64_t rows, int64_t cols) {
        return describe_schedule(resolve_recipe(table != nullptr ? table->table.get() : nullptr,
                                                fallback, Shape{rows, cols}));
      },
      py::arg("table"), py::arg("fallback"), py::arg("rows"), py::arg("cols"),
      "The recipe a rows x cols matrix gets (as Optimizer.schedule describes it), without "
      "registering anything; table None: the named fallback.");
  py::class_<PyOptimizer>(module, "Optimizer")
      .def(py::init<const PyTable*, const FallbackPolicy&, Device, const Hyperparams&>(),
           py::arg("table"), py::arg("fallback"), py::arg("device"), py::arg("hyperparams"),
           "A runtime instance over a loaded Table (None: every shape uses the fallback).")
      .def(
          "add_param",
          [](PyOptimizer& self, const std::string& name, int64_t batch, int64_t rows, int64_t cols,
             DType dtype, std::uintptr_t param, std::uintptr_t grad, std::uintptr_t momentum) {
            return self.add_param(name, batch, rows, cols, dtype, {param, grad, momentum});
          },
          py::arg("name"), py::arg("batch"), py::arg("rows"), py::arg("cols"), py::arg("dtype"),
          py::arg("param"), py::arg("grad"), py::arg("momentum") = 0,
          "Registers batch x rows x cols contiguous row-major matrices; returns the id.")
      .def(
          "rebind",
          [](PyOptimizer& self, int64_t id, std::uintptr_t param, std::uintptr_t grad,
             std::uintptr_t momentum) {
            self.rebind(id, {param, grad, momentum});
          },
          py::arg("id"), py::arg("param"), py::arg("grad"), py::arg("momentum") = 0)
      .def_property_readonly("num_params",
                             [](PyOptimizer& self) { return self.get().num_params(); })
      .def(
          "param_name", [](PyOptimizer& self, int64_t id) { return self.get().param(id).name; },
          py::arg("id"))
      .def(
          "schedule",
          [](PyOptimizer& self, int64_t id) { return describe_schedule(self.get().recipe(id)); },
          py::arg("id"),
          "The schedule of parameter `id`: name, origin (exact/nearest/named), source shape, "
          "description and the (a, b, c) coefficients per step.")
      .def(
          "set_hyperparams",
          [](PyOptimizer& self, const Hyperparams& hyperparams) {
            self.get().set_hyperparams(hyperparams);
          },
          py::arg("hyperparams"))
      .def_property_readonly("hyperparams",
                             [](PyOptimizer& self) { return self.get().hyperparams(); })
      .def("step", &PyOptimizer::step, py::arg("stream") = 0,
           "One ROOT step over all registered parameters, on `stream` (cudaStream_t as an "
           "integer; ignored on CPU).")
      .def(
          "last_report",
          [](PyOptimizer& self) {
            const StepReport report = self.get().last_report();
            return std::make_pair(report.step, report.skipped);
          },
          "(steps taken, names of parameters skipped for non-finite gradients); may "
          "synchronise the stream of the last step.")
      .def("take_warnings", &PyOptimizer::take_warnings,
           "Runtime warnings (fallback schedules) since the last call.")
      .def(
          "save_state",
          [](PyOptimizer& self, const std::string& path) { self.get().save_state(path); },
          py::arg("path"))
      .def(
          "load_state",
          [](PyOptimizer& self, const std::string& path) { self.get().load_state(path); },
          py::arg("path"))
      .def(
          "momentum", [](PyOptimizer& self, int64_t id) { return self.get().momentum(id); },
          py::arg("id"))
      .def(
          "set_momentum",
          [](PyOptimizer& self, int64_t id, const std::vector<float>& values) {
            self.get().set_momentum(id, values);
          },
          py::arg("id"), py::arg("values"))
      .def_static("cuda_available", &Optimizer::cuda_available);
}

}  // namespace rootopt::python
