// Model configs: the 2-D weights of a Hugging Face config.json (families in
// ../shared/reference/models.md), so tables and audits can be made per model.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "rootopt/shape.h"

namespace rootopt {

struct ModelWeight {
  std::string pattern;  // layer-name pattern, e.g. "model.layers.*.mlp.down_proj"
  Shape shape;          // as stored (nn.Linear: [out, in]; GPT-2 Conv1D: [in, out])
  int64_t count = 0;    // how many matrices share this pattern (layers x experts)
  bool adamw = false;   // conventionally left to AdamW (embeddings, lm_head)
  Shape key() const { return shape.canonical(); }
};

struct ModelConfig {
  std::string name;        // from the file name or "_name_or_path"
  std::string model_type;  // "llama", "mistral", "qwen2", "qwen3", "mixtral", "qwen3_moe", "gpt2"
  std::vector<ModelWeight> weights;
  // Distinct canonical shapes of the weights that are orthogonalized (adamw == false), sorted.
  std::vector<Shape> orthogonalized_shapes() const;
};

// Throws rootopt::Error naming the file and the field on malformed JSON, an unknown model_type,
// or a missing/invalid field; also on a file that is not a regular file, over 16 MiB, nested more
// than 64 levels deep, or whose sizes make a weight dimension above 2^24.
ModelConfig load_model_config(const std::string& path);
// The same from the file's text; `path` names it in messages.
ModelConfig model_config_from_json(const std::string& text, const std::string& path);

}  // namespace rootopt
