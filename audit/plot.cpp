#include "plot.h"

#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <vector>

#include "shipped_files.h"

namespace rootopt::audit {

// Exit status of tools/plot_audit.py when matplotlib cannot be imported.
constexpr int kNoMatplotlib = 3;

std::string plot_script_path() {
  if (const char* env = std::getenv("ROOTOPT_PLOT_SCRIPT")) return env;
  return detail::shipped_path("tools/plot_audit.py", "tools/plot_audit.py");
}

bool plot_audit(const PlotParams& params, const std::function<void(const std::string&)>& warn) {
  const char* env = std::getenv("ROOTOPT_PYTHON");
  const std::string python = env ? env : params.python;
  const std::string script = plot_script_path();
  if (access(python.c_str(), X_OK) != 0) {
    warn("no plot: Python interpreter " + python + " not found (set ROOTOPT_PYTHON)");
    return false;
  }
  if (!std::filesystem::exists(script)) {
    warn("no plot: " + script + " not found (set ROOTOPT_PLOT_SCRIPT)");
    return false;
  }
  std::vector<std::string> args{python, script, params.json_path, params.image_path,
                                params.cost_path};
  std::vector<char*> argv;
  for (std::string& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  pid_t pid = 0;
  if (posix_spawn(&pid, python.c_str(), nullptr, nullptr, argv.data(), environ) != 0) {
    warn("no plot: cannot start " + python);
    return false;
  }
  int status = 0;
  while (waitpid(pid, &status, 0) < 0) {
    if (errno != EINTR) {
      warn("no plot: lost track of " + python);
      return false;
    }
  }
  if (WIFEXITED(status) && WEXITSTATUS(status) == 0 && std::filesystem::exists(params.image_path) &&
      std::filesystem::exists(params.cost_path))
    return true;
  if (WIFEXITED(status) && WEXITSTATUS(status) == kNoMatplotlib)
    warn("no plot: matplotlib is not available to " + python +
         " (Debian: apt-get install python3-matplotlib)");
  else
    warn("no plot: " + script + " failed (see its message above)");
  return false;
}

}  // namespace rootopt::audit
