// rootopt: command-line front end. Subcommands are registered from cmd_*.cpp.
#include <hdf5.h>

#include <cstdio>
#include <exception>
#include <filesystem>
#include <new>

#include "commands.h"
#include "decimal_integers.h"
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
  rootopt::cli::require_decimal_integers(app);
  // Subcommands check sizes and paths before they start and throw rootopt::Error; the other
  // handlers are the last line, saying what happened in the user's terms, not the C++ library's.
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  } catch (const rootopt::Error& e) {
    std::fprintf(stderr, "rootopt: error: %s\n", e.what());
    return 1;
  } catch (const std::bad_alloc&) {
    std::fprintf(stderr,
                 "rootopt: error: out of memory: the run needs more memory than is available; "
                 "use smaller sizes or counts\n");
    return 1;
  } catch (const std::filesystem::filesystem_error& e) {
    std::fprintf(stderr, "rootopt: error: %s: %s\n", e.path1().c_str(), e.code().message().c_str());
    return 1;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "rootopt: error: %s\n", e.what());
    return 1;
  }
  return 0;
}
