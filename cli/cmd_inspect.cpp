// placeholder: implemented in a following commit
#include "commands.h"

namespace rootopt::cli {

void add_inspect_command(CLI::App& app) { app.add_subcommand("inspect", "(not implemented yet)"); }

}  // namespace rootopt::cli
