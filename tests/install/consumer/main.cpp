// Uses the installed rootopt: builds a table from a built-in schedule, saves it, loads it back
// and looks a shape up in the transposed orientation. Exits non-zero on any mismatch.
#include <rootopt/coefficient_table.h>
#include <rootopt/error.h>

#include <cstdio>

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: %s TABLE.h5\n", argv[0]);
    return 2;
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
