// Internal: the "captured" family built from make_family()'s text options.
#pragma once

#include <map>
#include <memory>
#include <string>

#include "rootopt/spectrum_family.h"

namespace rootopt::detail {

// options: set=<name> reads every *.h5 in <data_directory()>/spectra/<name>/ (default "fit";
// "heldout" is the held-out evaluation set); file=<a.h5>[;<b.h5>...] reads the given files.
std::unique_ptr<SpectrumFamily> make_captured_from_options(
    const std::map<std::string, std::string>& options, const FamilyParams& params);

}  // namespace rootopt::detail
