// Uses the installed rootopt: builds a table from a built-in schedule, saves it, loads it back
// and looks a shape up in the transposed orientation; checks the installed version header and
// where the installed library looks for its bundled data. Exits non-zero on any mismatch.
#include <rootopt/coefficient_table.h>
#include <rootopt/error.h>
#include <rootopt/spectrum_family.h>
#include <rootopt/version.h>

#include <cstdio>
#include <string>

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: %s TABLE.h5\n", argv[0]);
    return 2;
  }
  if (std::string(ROOTOPT_VERSION) != PACKAGE_VERSION) {
    std::fprintf(stderr, "consumer: rootopt/version.h says %s, the package %s\n", ROOTOPT_VERSION,
                 PACKAGE_VERSION);
    return 1;
  }
  // ROOTOPT_DATA_DIR is unset by the test: a program outside rootopt's build tree gets the
  // install location even while the build machine's source tree exists.
  if (rootopt::data_directory() != EXPECTED_DATA_DIR) {
    std::fprintf(stderr, "consumer: data directory %s, expected %s\n",
                 rootopt::data_directory().c_str(), EXPECTED_DATA_DIR);
    return 1;
  }
  try {
    const rootopt::Schedule muon = rootopt::builtin_schedule("muon", {1024, 4096}, 5);
    rootopt::CoefficientTable table;
    table.set({1024, 4096}, muon, {{"fit_rms", 0.5}});
    table.save(argv[1]);
    const auto loaded = rootopt::CoefficientTable::load(argv[1]);
    const auto found = loaded.lookup({4096, 1024});
    if (found.origin != rootopt::RecipeLookup::Origin::exact ||
        found.recipe.schedule[4].a != muon[4].a || loaded.metric(0, "fit_rms") != 0.5) {
      std::fprintf(stderr, "consumer: table round trip mismatch\n");
      return 1;
    }
    std::printf("consumer ok: %s\n", found.description().c_str());
  } catch (const rootopt::Error& e) {
    std::fprintf(stderr, "consumer: %s\n", e.what());
    return 1;
  }
  return 0;
}
