// Fuzz target: the shape-list parser behind --shapes (rootopt::parse_shape_list). Every accepted
// shape must satisfy the documented bounds, and print back to text that parses to itself.
#include <cstdlib>

#include "fuzz_support.h"
#include "rootopt/shape.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  rootopt::fuzz::expect_clean([&] {
    for (const rootopt::Shape& shape : rootopt::parse_shape_list(text)) {
      if (shape.rows < 1 || shape.cols < 1 || shape.rows > (1 << 24) || shape.cols > (1 << 24))
        std::abort();
      if (rootopt::parse_shape(rootopt::to_string(shape)) != shape) std::abort();
    }
  });
  return 0;
}
