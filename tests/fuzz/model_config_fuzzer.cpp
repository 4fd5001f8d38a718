// Fuzz target: the model-config reader (rootopt::model_config_from_json, behind `rootopt shapes`,
// `tune --model` and `audit --model`). Every accepted config must describe weights whose shapes
// satisfy the documented bounds, with positive counts.
#include <cstdlib>

#include "fuzz_support.h"
#include "rootopt/model_config.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  rootopt::fuzz::expect_clean([&] {
    const rootopt::ModelConfig config = rootopt::model_config_from_json(text, "fuzz.json");
    for (const rootopt::ModelWeight& w : config.weights) {
      const rootopt::Shape key = w.key();
      if (key.rows < 1 || key.rows > key.cols || key.cols > (int64_t{1} << 24) || w.count < 1)
        std::abort();
    }
    (void)config.orthogonalized_shapes();
  });
  return 0;
}
