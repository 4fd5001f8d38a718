#include "table_fuzz_target.h"

#include <string>

#include "rootopt/coefficient_table.h"
#include "rootopt/error.h"

namespace rootopt::fuzz {

bool load_table_bytes(const uint8_t* data, size_t size) {
  CoefficientTable table;
  try {
    table = CoefficientTable::load_image(std::string(reinterpret_cast<const char*>(data), size),
                                         "fuzz.h5");
  } catch (const Error&) {
    return false;  // a clean refusal is the expected outcome for damaged bytes
  }
  // What the runtime and inspect do with a loaded table: lookups, descriptions, warnings,
  // metrics and provenance.
  for (int64_t i = 0; i < table.size(); ++i) {
    const Shape shape = table.shapes()[size_t(i)];
    (void)table.lookup({shape.cols, shape.rows}).description();
    (void)table.recipe(i).describe();
    (void)table.warning(i);
    for (const auto& [name, column] : table.metrics()) (void)table.metric(i, name);
  }
  (void)table.lookup({1000, 3000}).description();
  for (const auto& [name, value] : table.attributes()) (void)(name.size() + value.size());
  return true;
}

}  // namespace rootopt::fuzz

#ifdef ROOTOPT_LIBFUZZER
extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  rootopt::fuzz::load_table_bytes(data, size);
  return 0;
}
#endif
