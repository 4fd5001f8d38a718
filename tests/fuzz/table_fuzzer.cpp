// Fuzz target: the coefficient-table reader (CoefficientTable::load_image, the same code as
// load) over arbitrary bytes, then what the runtime and `rootopt inspect` do with a loaded table:
// lookups, descriptions, warnings, metrics, provenance. Seeds: version-1 and version-2 tables
// (tests/fuzz/corpus/table/README.md); tools/fuzz-table runs it under ASan and UBSan.
#include "fuzz_support.h"
#include "rootopt/coefficient_table.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  rootopt::fuzz::expect_clean([&] {
    const rootopt::CoefficientTable table = rootopt::CoefficientTable::load_image(
        std::string(reinterpret_cast<const char*>(data), size), "fuzz.h5");
    for (int64_t i = 0; i < table.size(); ++i) {
      const rootopt::Shape shape = table.shapes()[size_t(i)];
      (void)table.lookup({shape.cols, shape.rows}).description();
      (void)table.recipe(i).describe();
      (void)table.warning(i);
      for (const auto& [name, column] : table.metrics()) (void)table.metric(i, name);
    }
    (void)table.lookup({1000, 3000}).description();
  });
  return 0;
}
