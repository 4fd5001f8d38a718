// rootopt._rootopt: a thin binding of the C++ runtime (include/rootopt/optimizer.h). It takes raw
// device or host pointers as integers, so it needs no libtorch; rootopt/torch.py does the routing.
// rootopt::Error becomes rootopt._rootopt.Error, a subclass of RuntimeError carrying the message.
#include <pybind11/pybind11.h>

#include "bindings.h"
#include "rootopt/error.h"

PYBIND11_MODULE(_rootopt, module) {
  module.doc() = "rootopt runtime: the ROOT optimizer step on CPU and CUDA (raw-pointer API)";
  pybind11::register_exception<rootopt::Error>(module, "Error", PyExc_RuntimeError);
  rootopt::python::bind_types(module);
  rootopt::python::bind_optimizer(module);
}
