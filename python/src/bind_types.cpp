// Enums and hyperparameter structs of include/rootopt/optimizer.h, bound field by field.
#include <pybind11/pybind11.h>

#include "bindings.h"
#include "rootopt/coefficient_table.h"
#include "rootopt/optimizer.h"
#include "rootopt/precision.h"

namespace py = pybind11;

namespace rootopt::python {

void bind_types(py::module_& module) {
  py::enum_<DType>(module, "DType").value("fp32", DType::fp32).value("bf16", DType::bf16);
  py::enum_<Device>(module, "Device").value("cpu", Device::cpu).value("cuda", Device::cuda);
  py::enum_<ThresholdMode>(module, "ThresholdMode")
      .value("quantile", ThresholdMode::quantile)
      .value("fixed", ThresholdMode::fixed)
      .value("off", ThresholdMode::off);
  py::enum_<ScaleMode>(module, "ScaleMode")
      .value("rms", ScaleMode::rms)
      .value("spectral", ScaleMode::spectral)
      .value("none", ScaleMode::none);
  py::enum_<Precision>(module, "Precision")
      .value("fp64", Precision::fp64)
      .value("fp32", Precision::fp32)
      .value("bf16", Precision::bf16);

  py::class_<Hyperparams>(module, "Hyperparams")
      .def(py::init<>())
      .def_readwrite("lr", &Hyperparams::lr)
      .def_readwrite("momentum", &Hyperparams::momentum)
      .def_readwrite("nesterov", &Hyperparams::nesterov)
      .def_readwrite("weight_decay", &Hyperparams::weight_decay)
      .def_readwrite("threshold", &Hyperparams::threshold)
      .def_readwrite("threshold_quantile", &Hyperparams::threshold_quantile)
      .def_readwrite("threshold_value", &Hyperparams::threshold_value)
      .def_readwrite("precision", &Hyperparams::precision)
      .def_readwrite("scale", &Hyperparams::scale);

  py::enum_<Normalization>(module, "Normalization")
      .value("frobenius", Normalization::frobenius)
      .value("schatten4", Normalization::schatten4)
      .value("schatten8", Normalization::schatten8);
  py::class_<FallbackPolicy> fallback(module, "FallbackPolicy");
  py::enum_<FallbackPolicy::Kind>(fallback, "Kind")
      .value("error", FallbackPolicy::Kind::error)
      .value("nearest", FallbackPolicy::Kind::nearest)
      .value("named", FallbackPolicy::Kind::named);
  fallback.def(py::init<>())
      .def(py::init([](FallbackPolicy::Kind kind, std::string schedule_name) {
             return FallbackPolicy{kind, std::move(schedule_name)};
           }),
           py::arg("kind"), py::arg("schedule_name") = FallbackPolicy{}.schedule_name)
      .def_readwrite("kind", &FallbackPolicy::kind)
      .def_readwrite("schedule_name", &FallbackPolicy::schedule_name)
      .def_readwrite("steps", &FallbackPolicy::steps)
      .def_readwrite("normalization", &FallbackPolicy::normalization);
}

}  // namespace rootopt::python
