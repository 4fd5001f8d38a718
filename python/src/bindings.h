// The pieces of the `rootopt._rootopt` extension module, one function per bound concept.
#pragma once

#include <pybind11/pybind11.h>

namespace rootopt::python {

// Enums and plain structs: DType, Device, ThresholdMode, ScaleMode, Precision, Hyperparams,
// FallbackPolicy.
void bind_types(pybind11::module_& module);
// rootopt::Optimizer over raw pointers (tensor.data_ptr()) and integer CUDA streams.
void bind_optimizer(pybind11::module_& module);

}  // namespace rootopt::python
