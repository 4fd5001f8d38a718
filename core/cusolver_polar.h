// Internal: the cuSOLVER polar solver (core/cusolver_polar.cpp, built only with CUDA).
#pragma once

#include <memory>

#include "rootopt/matrix_reference.h"

namespace rootopt {

// Returns null, or throws rootopt::Error, when no CUDA device is usable; the caller then falls
// back to the CPU solver.
std::unique_ptr<PolarSolver> make_cusolver_polar_solver();

}  // namespace rootopt
