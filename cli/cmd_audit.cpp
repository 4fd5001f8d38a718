// placeholder: implemented in a following commit
#include "commands.h"

namespace rootopt::cli {

void add_audit_command(CLI::App& app) { app.add_subcommand("audit", "(not implemented yet)"); }

}  // namespace rootopt::cli
