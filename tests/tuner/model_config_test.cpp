// Model configs: every family's weights against shapes computed here from the facts in
// ../shared/reference/models.md, and every kind of bad config.
#include "rootopt/model_config.h"

#include <gtest/gtest.h>

#include <map>
#include <set>
#include <string>

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
  expect_config_error(path("missing.json"), "cannot open");
  expect_config_error(write("malformed.json", "{\"model_type\": \"llama\","), "malformed JSON");
  expect_config_error(write("array.json", "[1, 2]"), "JSON object");
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

}  // namespace
}  // namespace rootopt
