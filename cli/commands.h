// Each subcommand of `rootopt` lives in its own cmd_<name>.cpp and registers itself here.
// A subcommand's callback throws rootopt::Error (or CLI11 errors) on failure; main() prints the
// message to stderr and exits non-zero.
#pragma once

#include <CLI/CLI.hpp>

namespace rootopt::cli {

void add_inspect_command(CLI::App& app);  // rootopt inspect TABLE
void add_eval_command(CLI::App& app);     // rootopt eval --schedule NAME|--table T --shape MxN
void add_shapes_command(CLI::App& app);   // rootopt shapes CONFIG.json
void add_tune_command(CLI::App& app);     // rootopt tune --model CONFIG.json|--shapes ... --out T
void add_audit_command(CLI::App& app);    // rootopt audit --model CONFIG.json [--table T]

}  // namespace rootopt::cli
