// Input checks of the optimizer, run before anything is modified. Each throws rootopt::Error
// naming the offending field, its value and the parameter.
#pragma once

#include "rootopt/optimizer.h"

namespace rootopt::detail {

// The working precisions of the runtime's Newton-Schulz (Hyperparams::precision); they may change
// between steps, so a backend sizes its workspaces for all of them.
inline constexpr Precision kRuntimePrecisions[] = {Precision::bf16, Precision::fp32};

void validate_hyperparams(const Hyperparams& hyperparams);
// Name, sizes, dtype and pointers of a registration (`what`: "add_param" or "rebind").
void validate_param_spec(const ParamSpec& spec, const char* what);
// A rebind keeps name (or leaves it empty), batch, rows, cols and dtype.
void validate_rebind(const ParamSpec& registered, const ParamSpec& spec);

}  // namespace rootopt::detail
