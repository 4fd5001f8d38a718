// rootopt: command-line front end. Subcommands are registered from cmd_*.cpp.
#include <hdf5.h>

#include <cstdio>
#include <exception>

#include "commands.h"
#include "rootopt/error.h"

int main(int argc, char** argv) {
  // rootopt reports every HDF5 failure itself, naming the file. HDF5's automatic printing would
  // add its error stack, and after reading some damaged files HDF5 1.10 leaks a free-list block
  // that makes it print "HDF5: infinite loop closing library" at exit (only while printing is on).
  H5Eset_auto2(H5E_DEFAULT, nullptr, nullptr);
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
