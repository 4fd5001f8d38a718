// Model configs: every family's weights against shapes computed here from the facts in
// ../shared/reference/models.md, and every kind of bad config.
#include "rootopt/model_config.h"

#include <gtest/gtest.h>

#include <sys/stat.h>

#include <filesystem>
#include <map>
#include <set>
#include <string>
#include <tuple>

#include "rootopt/error.h"
#include "tuner_test_support.h"

namespace rootopt {
namespace {

using Expected = std::map<std::string, std::tuple<int64_t, int64_t, int64_t, bool>>;

void expect_weights(const ModelConfig& config, const Expected& expected) {
  ASSERT_EQ(config.weights.size(), expected.size()) << config.name;
  for (const ModelWeight& w : config.weights) {
    const auto it = expected.find(w.pattern);
    ASSERT_NE(it, expected.end()) << "unexpected weight " << w.pattern;
    const auto& [rows, cols, count, adamw] = it->second;
    EXPECT_EQ(w.shape.rows, rows) << w.pattern;
    EXPECT_EQ(w.shape.cols, cols) << w.pattern;
    EXPECT_EQ(w.count, count) << w.pattern;
    EXPECT_EQ(w.adamw, adamw) << w.pattern;
    EXPECT_EQ(w.key(), w.shape.canonical());
  }
}

std::string model(const std::string& name) { return std::string(ROOTOPT_MODELS_DIR) + "/" + name; }

// q [nh d, H]; k, v [nkv d, H]; o [H, nh d]; gate/up [I, H]; down [H, I]; embed/lm_head [V, H].
Expected dense(int64_t H, int64_t I, int64_t nh, int64_t nkv, int64_t d, int64_t L, int64_t V) {
  const std::string a = "model.layers.*.self_attn.", m = "model.layers.*.mlp.";
  return {{"model.embed_tokens", {V, H, 1, true}}, {"lm_head", {V, H, 1, true}},
          {a + "q_proj", {nh * d, H, L, false}},   {a + "k_proj", {nkv * d, H, L, false}},
          {a + "v_proj", {nkv * d, H, L, false}},  {a + "o_proj", {H, nh * d, L, false}},
          {m + "gate_proj", {I, H, L, false}},     {m + "up_proj", {I, H, L, false}},
          {m + "down_proj", {H, I, L, false}}};
}

TEST(ModelConfig, Llama3_8B) {
  const ModelConfig c = load_model_config(model("llama-3-8b.json"));
  EXPECT_EQ(c.model_type, "llama");
  expect_weights(c, dense(4096, 14336, 32, 8, 128, 32, 128256));
  EXPECT_EQ(c.orthogonalized_shapes(),
            (std::vector<Shape>{{1024, 4096}, {4096, 4096}, {4096, 14336}}));
}

TEST(ModelConfig, Llama3_70B) {
  expect_weights(load_model_config(model("llama-3-70b.json")),
                 dense(8192, 28672, 64, 8, 128, 80, 128256));
}

TEST(ModelConfig, Mistral7B) {
  const ModelConfig c = load_model_config(model("mistral-7b.json"));
  EXPECT_EQ(c.model_type, "mistral");
  expect_weights(c, dense(4096, 14336, 32, 8, 128, 32, 32000));
}

TEST(ModelConfig, Mixtral8x7B) {
  Expected e = dense(4096, 14336, 32, 8, 128, 32, 32000);
  for (const char* name : {"gate_proj", "up_proj", "down_proj"})
    e.erase(std::string("model.layers.*.mlp.") + name);
  const std::string p = "model.layers.*.block_sparse_moe.";
  e[p + "gate"] = {8, 4096, 32, false};
  e[p + "experts.*.w1"] = {14336, 4096, 32 * 8, false};
  e[p + "experts.*.w3"] = {14336, 4096, 32 * 8, false};
  e[p + "experts.*.w2"] = {4096, 14336, 32 * 8, false};
  expect_weights(load_model_config(model("mixtral-8x7b.json")), e);
}

TEST(ModelConfig, Qwen3_30B_A3B_UsesExplicitHeadDim) {
  // head_dim 128 != H / nh = 64: q_proj is [4096, 2048].
  Expected e = dense(2048, 768, 32, 4, 128, 48, 151936);
  for (const char* name : {"gate_proj", "up_proj", "down_proj"})
    e.erase(std::string("model.layers.*.mlp.") + name);
  const std::string x = "model.layers.*.mlp.experts.*.";
  e["model.layers.*.mlp.gate"] = {128, 2048, 48, false};
  e[x + "gate_proj"] = {768, 2048, 48 * 128, false};
  e[x + "up_proj"] = {768, 2048, 48 * 128, false};
  e[x + "down_proj"] = {2048, 768, 48 * 128, false};
  const ModelConfig c = load_model_config(model("qwen3-30b-a3b.json"));
  expect_weights(c, e);
  EXPECT_EQ(c.orthogonalized_shapes(),
            (std::vector<Shape>{{128, 2048}, {512, 2048}, {768, 2048}, {2048, 4096}}));
}

TEST(ModelConfig, Gpt2SmallConv1D) {
  const std::string h = "transformer.h.*.";
  const ModelConfig c = load_model_config(model("gpt2.json"));
  expect_weights(c, {{"transformer.wte", {50257, 768, 1, true}},
                     {"transformer.wpe", {1024, 768, 1, true}},
                     {"lm_head", {50257, 768, 1, true}},
                     {h + "attn.c_attn", {768, 2304, 12, false}},
                     {h + "attn.c_proj", {768, 768, 12, false}},
                     {h + "mlp.c_fc", {768, 3072, 12, false}},
                     {h + "mlp.c_proj", {3072, 768, 12, false}}});
  EXPECT_EQ(c.orthogonalized_shapes(), (std::vector<Shape>{{768, 768}, {768, 2304}, {768, 3072}}));
}

class ModelConfigFiles : public testing::ScratchDir {};

TEST_F(ModelConfigFiles, Qwen2MoeSharedExpertAndSparseStep) {
  // Layers 1 and 3 sparse (decoder_sparse_step 2), layer 3 listed as mlp-only: 1 sparse layer.
  const std::string path = write("qwen2moe.json", R"({"model_type": "qwen2_moe",
    "hidden_size": 256, "intermediate_size": 1024, "num_attention_heads": 4,
    "num_key_value_heads": 2, "num_hidden_layers": 4, "vocab_size": 1000, "num_experts": 6,
    "moe_intermediate_size": 96, "shared_expert_intermediate_size": 512,
    "decoder_sparse_step": 2, "mlp_only_layers": [3]})");
  Expected e = dense(256, 1024, 4, 2, 64, 4, 1000);
  const std::string m = "model.layers.*.mlp.";
  e[m + "gate_proj"] = {1024, 256, 3, false};
  e[m + "up_proj"] = {1024, 256, 3, false};
  e[m + "down_proj"] = {256, 1024, 3, false};
  e[m + "gate"] = {6, 256, 1, false};
  e[m + "experts.*.gate_proj"] = {96, 256, 6, false};
  e[m + "experts.*.up_proj"] = {96, 256, 6, false};
  e[m + "experts.*.down_proj"] = {256, 96, 6, false};
  e[m + "shared_expert.gate_proj"] = {512, 256, 1, false};
  e[m + "shared_expert.up_proj"] = {512, 256, 1, false};
  e[m + "shared_expert.down_proj"] = {256, 512, 1, false};
  e[m + "shared_expert_gate"] = {1, 256, 1, false};
  expect_weights(load_model_config(path), e);
}

void expect_config_error(const std::string& path, const std::string& needle) {
  try {
    load_model_config(path);
    FAIL() << "no error for " << path;
  } catch (const Error& e) {
    const std::string message = e.what();
    EXPECT_NE(message.find(needle), std::string::npos) << message;
    EXPECT_NE(message.find(path), std::string::npos) << "error does not name the file: " << message;
  }
}

TEST_F(ModelConfigFiles, BadConfigsNameFileAndField) {
  const std::string llama =
      R"("hidden_size": 4096, "intermediate_size": 14336, "num_attention_heads": 32,
         "num_hidden_layers": 32, "vocab_size": 32000)";
  expect_config_error(path("missing.json"), "no such file");
  expect_config_error(write("malformed.json", "{\"model_type\": \"llama\","), "malformed JSON");
  expect_config_error(write("array.json", "[1, 2]"), "JSON object");
  // Found by the model_config fuzzer: nlohmann::json reports this as out_of_range, not as a
  // parse error, and it escaped as a C++ library message.
  expect_config_error(write("overflow.json", R"({"model_type": "llama", "hidden_size": 1e400})"),
                      "malformed JSON: number overflow parsing '1e400'");
  expect_config_error(write("notype.json", "{" + llama + "}"), "model_type");
  expect_config_error(write("unknown.json", R"({"model_type": "bert", )" + llama + "}"),
                      "unknown model_type 'bert'");
  expect_config_error(write("nohidden.json", R"({"model_type": "llama",
    "intermediate_size": 14336, "num_attention_heads": 32, "num_hidden_layers": 32,
    "vocab_size": 32000})"),
                      "'hidden_size'");
  expect_config_error(write("negative.json", R"({"model_type": "llama", "hidden_size": -4096,
    "intermediate_size": 14336, "num_attention_heads": 32, "num_hidden_layers": 32,
    "vocab_size": 32000})"),
                      "'hidden_size'");
  expect_config_error(write("string.json", R"({"model_type": "mistral", "hidden_size": "4096",
    "intermediate_size": 14336, "num_attention_heads": 32, "num_hidden_layers": 32,
    "vocab_size": 32000})"),
                      "'hidden_size'");
  expect_config_error(write("absurd.json", R"({"model_type": "llama", "hidden_size": 4096,
    "intermediate_size": 99999999999, "num_attention_heads": 32, "num_hidden_layers": 32,
    "vocab_size": 32000})"),
                      "'intermediate_size'");
  expect_config_error(write("heads.json", R"({"model_type": "qwen2", "hidden_size": 1000,
    "intermediate_size": 4096, "num_attention_heads": 3, "num_hidden_layers": 2,
    "vocab_size": 100})"),
                      "head_dim");
  expect_config_error(write("mixtral.json", R"({"model_type": "mixtral", )" + llama + "}"),
                      "'num_local_experts'");
  expect_config_error(
      write("qwenmoe.json", R"({"model_type": "qwen3_moe", "num_experts": 8, )" + llama + "}"),
      "'moe_intermediate_size'");
  expect_config_error(write("gpt2.json", R"({"model_type": "gpt2", "n_embd": 768, "n_head": 12,
    "n_layer": 12, "vocab_size": 50257})"),
                      "'n_positions'");
  expect_config_error(write("layers.json", R"({"model_type": "qwen3_moe", "num_experts": 8,
    "moe_intermediate_size": 64, "mlp_only_layers": [40], )" +
                                               llama + "}"),
                      "'mlp_only_layers'");
}

// Hostile files: every one is refused with a bounded message naming the file, before anything is
// printed or allocated by size (the probe of issue 12 crashed on the first, hung on the FIFO).
TEST_F(ModelConfigFiles, HostileFilesFailCleanlyWithBoundedMessages) {
  const auto error_of = [](const std::string& file) -> std::string {
    try {
      load_model_config(file);
    } catch (const Error& e) {
      return e.what();
    }
    return "no error";
  };
  // 70,000 levels of nesting: nlohmann's serializer recursed once per level and overflowed the
  // stack when the error message printed the value.
  const int depth = 70000;
  const std::string deep =
      write("deep.json", R"({"model_type": "llama", "hidden_size": )" + std::string(depth, '[') +
                             std::string(depth, ']') + "}");
  std::string message = error_of(deep);
  EXPECT_NE(message.find("nested more than 64 levels"), std::string::npos) << message;
  EXPECT_NE(message.find(deep), std::string::npos) << message;
  // 64 levels are allowed (a real config nests a few), the value is then refused as a size.
  const std::string nested =
      write("nested.json", R"({"model_type": "llama", "hidden_size": )" + std::string(62, '[') +
                               "1" + std::string(62, ']') + "}");
  message = error_of(nested);
  EXPECT_NE(message.find("'hidden_size' must be an integer"), std::string::npos) << message;

  // A 10 MB model_type, a 10 MB unterminated string and a 10 MB array: echoed in part only.
  const std::string huge(10 << 20, 'x');
  std::string long_array = "[1";
  for (int i = 0; i < (2 << 20); ++i) long_array += ",1";
  using Case = std::tuple<std::string, std::string, std::string>;
  const Case cases[] = {
      {"type.json", R"({"model_type": ")" + huge + R"("})", "unknown model_type 'xxx"},
      {"open.json", R"({"model_type": ")" + huge, "malformed JSON: parse error at line 1"},
      {"array.json", R"({"model_type": "llama", "hidden_size": )" + long_array + "]}",
       "'hidden_size' must be an integer"}};
  for (const auto& [name, text, needle] : cases) {
    message = error_of(write(name, text));
    EXPECT_NE(message.find(needle), std::string::npos) << message.substr(0, 300);
    EXPECT_LT(message.size(), 600u) << name << ": message of " << message.size() << " bytes";
  }
  message = error_of(write("large.json", std::string(17 << 20, ' ')));
  EXPECT_NE(message.find("too large for a model config (limit 16 MiB)"), std::string::npos)
      << message;

  // Not regular files: a directory (was "basic_filebuf::underflow error reading the file") and a
  // FIFO (blocked forever in open()).
  std::filesystem::create_directory(path("dir.json"));
  message = error_of(path("dir.json"));
  EXPECT_NE(message.find(path("dir.json") + ": not a regular file"), std::string::npos) << message;
  ASSERT_EQ(mkfifo(path("fifo.json").c_str(), 0600), 0);
  message = error_of(path("fifo.json"));
  EXPECT_NE(message.find(path("fifo.json") + ": not a regular file"), std::string::npos) << message;
}

// Size fields within bounds whose products are not: 2^24 heads of dimension 2^24 made a
// 2^48 x 4096 q_proj that `tune` then tried to sample.
TEST_F(ModelConfigFiles, ProductsOfSizeFieldsAreBoundedLikeShapes) {
  const auto expect_too_large = [this](const std::string& name, const std::string& fields,
                                       const std::string& weight) {
    const std::string file = write(name, "{" + fields + "}");
    try {
      load_model_config(file);
      ADD_FAILURE() << "no error for " << fields;
    } catch (const Error& e) {
      const std::string message = e.what();
      EXPECT_NE(message.find(file + ": weight " + weight), std::string::npos) << message;
      EXPECT_NE(message.find("above 16777216 (2^24)"), std::string::npos) << message;
    }
  };
  expect_too_large("heads.json", R"("model_type": "llama", "hidden_size": 4096,
    "num_attention_heads": 16777216, "head_dim": 16777216, "num_hidden_layers": 2,
    "vocab_size": 100, "intermediate_size": 100)",
                   "model.layers.*.self_attn.q_proj would be 281474976710656x4096");
  expect_too_large("gpt2.json", R"("model_type": "gpt2", "n_embd": 16777216, "n_head": 1,
    "n_layer": 1, "vocab_size": 10, "n_positions": 10)",
                   "transformer.h.*.attn.c_attn would be 16777216x50331648");
  // At the bound itself a config is accepted: 2^23 heads of 2 make a 2^24-row q_proj.
  const ModelConfig edge = load_model_config(write("edge.json", R"({"model_type": "llama",
    "hidden_size": 64, "num_attention_heads": 8388608, "head_dim": 2, "num_hidden_layers": 1,
    "vocab_size": 10, "intermediate_size": 64})"));
  EXPECT_EQ(edge.weights[2].shape, (Shape{16777216, 64}));
}

// The same reader on text: what the fuzz target and tools without a file use.
TEST(ModelConfig, FromJsonTextNamesTheGivenSource) {
  const ModelConfig c = model_config_from_json(
      R"({"model_type": "gpt2", "n_embd": 64, "n_head": 4, "n_layer": 2, "vocab_size": 100,
          "n_positions": 32})",
      "inline.json");
  EXPECT_EQ(c.name, "inline");
  EXPECT_EQ(c.weights.size(), 7u);
  try {
    model_config_from_json("{", "inline.json");
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("inline.json: malformed JSON"), std::string::npos)
        << e.what();
  }
}

}  // namespace
}  // namespace rootopt
