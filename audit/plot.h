// The audit plots, drawn by tools/plot_audit.py with Debian's matplotlib: error per layer for
// each schedule, and the precision-vs-cost view (per layer shape, each schedule as a point:
// error against GEMM flops relative to Polar Express). A missing Python or matplotlib is a
// warning, not an error.
#pragma once

#include <functional>
#include <string>

namespace rootopt::audit {

struct PlotParams {
  std::string python;      // interpreter; ROOTOPT_PYTHON overrides
  std::string json_path;   // audit.json to read
  std::string image_path;  // audit.svg (or .png) to write
  std::string cost_path;   // audit-cost.svg (or .png) to write
};

// Returns true when both images were written; otherwise calls `warn` with the reason.
bool plot_audit(const PlotParams& params, const std::function<void(const std::string&)>& warn);

// tools/plot_audit.py: ROOTOPT_PLOT_SCRIPT, else the source tree's for a build-tree binary, else
// the installed copy (shipped_files.h).
std::string plot_script_path();

}  // namespace rootopt::audit
