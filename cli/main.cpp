// rootopt: command-line front end. Subcommands are registered from cmd_*.cpp.
#include <cstdio>
#include <exception>

#include "commands.h"
#include "rootopt/error.h"

int main(int argc, char** argv) {
  CLI::App app{"rootopt: per-shape Newton-Schulz coefficients for ROOT/Muon optimizers"};
  app.require_subcommand(1);
  rootopt::cli::add_inspect_command(app);
  rootopt::cli::add_eval_command(app);
  rootopt::cli::add_shapes_command(app);
  rootopt::cli::add_tune_command(app);
  rootopt::cli::add_audit_command(app);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "rootopt: error: %s\n", e.what());
    return 1;
  }
  return 0;
}
