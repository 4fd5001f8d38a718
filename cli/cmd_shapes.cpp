// placeholder: implemented in a following commit
#include "commands.h"

namespace rootopt::cli {

void add_shapes_command(CLI::App& app) { app.add_subcommand("shapes", "(not implemented yet)"); }

}  // namespace rootopt::cli
