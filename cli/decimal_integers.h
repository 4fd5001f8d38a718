// Integer options read as plain decimal. CLI11 2.1 converts integers with strtoll/strtoull, so
// an out-of-range value is silently clamped (99999999999999999999 -> 2^63 - 1), "-1" becomes
// 2^64 - 1 for an unsigned option, and "010" / "0x10" are read as octal / hex.
#pragma once

#include <CLI/CLI.hpp>

namespace rootopt::cli {

// Adds a check (a CLI11 transform) to every integer option of `app`, its subcommands and option
// groups: an optional
// '-' (signed options only) and decimal digits whose value fits 64 bits, else a ValidationError
// naming the option and the value. Call after every option is registered.
void require_decimal_integers(CLI::App& app);

}  // namespace rootopt::cli
