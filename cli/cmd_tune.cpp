// placeholder: implemented in a following commit
#include "commands.h"

namespace rootopt::cli {

void add_tune_command(CLI::App& app) { app.add_subcommand("tune", "(not implemented yet)"); }

}  // namespace rootopt::cli
