// placeholder: implemented in a following commit
#include "commands.h"

namespace rootopt::cli {

void add_eval_command(CLI::App& app) { app.add_subcommand("eval", "(not implemented yet)"); }

}  // namespace rootopt::cli
