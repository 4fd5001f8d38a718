// Where the files rootopt ships with its binaries (data/: tables, spectra, model configs;
// tools/plot_audit.py) are found at run time. A binary in the build tree (the CLI, the tests and
// the Python module before `cmake --install`) reads the source tree; any other binary (an
// installed `rootopt`, a user's program linking the installed libraries) reads the install prefix,
// never the source tree of the machine it was built on.
#pragma once

#include <string>

namespace rootopt::detail {

// True when the executable or shared object holding this code lies in rootopt's build tree.
bool running_from_build_tree();

// <source>/<in_source> for a build-tree binary, else <prefix>/share/rootopt/<installed> (an
// empty relative path gives the directory itself).
std::string shipped_path(const std::string& in_source, const std::string& installed);

}  // namespace rootopt::detail
