// Hugging Face config.json -> the 2-D weights of the model, per family
// (facts in ../shared/reference/models.md). nn.Linear weights are stored [out, in]; GPT-2's
// Conv1D stores [in, out].
#include "rootopt/model_config.h"

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <set>

#include "check.h"

namespace rootopt {
namespace {

using nlohmann::json;

// Every size field, and every weight dimension computed from them, is at most kMaxDimension
// (shape.h): larger is not a real model.
// A Hugging Face config.json is a few kilobytes; anything this large is not one.
constexpr int64_t kMaxFileBytes = int64_t{16} << 20;
// Configs nest a few levels (rope_scaling, quantization_config). nlohmann::json's serializer and
// comparisons recurse once per level, so a value nested tens of thousands deep would overflow the
// stack wherever it is printed: deeper files are refused while parsing.
constexpr int kMaxNesting = 64;

// A JSON value as an error message may echo it: bounded, whatever its size.
std::string echo(const json& value) {
  return detail::excerpt(value.dump(-1, ' ', false, json::error_handler_t::replace));
}

// Typed access to config.json fields; every failure names the file and the field.
class ConfigFields {
 public:
  ConfigFields(const json& root, std::string path) : root_(root), path_(std::move(path)) {}

  bool has(const std::string& field) const {
    return root_.contains(field) && !root_.at(field).is_null();
  }

  int64_t positive(const std::string& field) const {
    ROOTOPT_CHECK(has(field), path_, ": missing field '", field, "'");
    return checked(field, root_.at(field));
  }

  int64_t positive_or(const std::string& field, int64_t fallback) const {
    return has(field) ? checked(field, root_.at(field)) : fallback;
  }

  // A size that may legitimately be 0 (e.g. shared_expert_intermediate_size).
  int64_t non_negative_or(const std::string& field, int64_t fallback) const {
    if (!has(field)) return fallback;
    const json& value = root_.at(field);
    ROOTOPT_CHECK(value.is_number_integer() && value.get<int64_t>() >= 0 &&
                      value.get<int64_t>() <= kMaxDimension,
                  path_, ": field '", field, "' must be an integer in [0, ", kMaxDimension,
                  "], got ", echo(value));
    return value.get<int64_t>();
  }

  std::set<int64_t> index_list_or_empty(const std::string& field, int64_t layers) const {
    std::set<int64_t> indices;
    if (!has(field)) return indices;
    const json& value = root_.at(field);
    ROOTOPT_CHECK(value.is_array(), path_, ": field '", field, "' must be a list of layer indices");
    for (const json& item : value) {
      ROOTOPT_CHECK(
          item.is_number_integer() && item.get<int64_t>() >= 0 && item.get<int64_t>() < layers,
          path_, ": field '", field, "' holds ", echo(item), ", not a layer index in [0, ", layers,
          ")");
      indices.insert(item.get<int64_t>());
    }
    return indices;
  }

  std::string string_or(const std::string& field, const std::string& fallback) const {
    if (!has(field)) return fallback;
    const json& value = root_.at(field);
    ROOTOPT_CHECK(value.is_string(), path_, ": field '", field, "' must be a string");
    return value.get<std::string>();
  }

  const std::string& path() const { return path_; }

 private:
  int64_t checked(const std::string& field, const json& value) const {
    ROOTOPT_CHECK(value.is_number_integer() && value.get<int64_t>() > 0 &&
                      value.get<int64_t>() <= kMaxDimension,
                  path_, ": field '", field, "' must be an integer in [1, ", kMaxDimension,
                  "], got ", echo(value));
    return value.get<int64_t>();
  }

  const json& root_;
  std::string path_;
};

// Attention and embedding sizes shared by the Llama-style families.
struct DecoderDims {
  int64_t hidden = 0, heads = 0, kv_heads = 0, head_dim = 0, layers = 0, vocab = 0;
};

DecoderDims decoder_dims(const ConfigFields& f) {
  DecoderDims d;
  d.hidden = f.positive("hidden_size");
  d.heads = f.positive("num_attention_heads");
  d.kv_heads = f.positive_or("num_key_value_heads", d.heads);
  d.layers = f.positive("num_hidden_layers");
  d.vocab = f.positive("vocab_size");
  // Qwen3 (and others) give head_dim explicitly, and it need not equal hidden / heads.
  if (f.has("head_dim")) {
    d.head_dim = f.positive("head_dim");
  } else {
    ROOTOPT_CHECK(d.hidden % d.heads == 0, f.path(), ": field 'hidden_size' (", d.hidden,
                  ") is not divisible by 'num_attention_heads' (", d.heads,
                  ") and no 'head_dim' is given");
    d.head_dim = d.hidden / d.heads;
  }
  return d;
}

void add_embeddings(const DecoderDims& d, std::vector<ModelWeight>& w) {
  w.push_back({"model.embed_tokens", {d.vocab, d.hidden}, 1, true});
  w.push_back({"lm_head", {d.vocab, d.hidden}, 1, true});
}

void add_attention(const DecoderDims& d, std::vector<ModelWeight>& w) {
  const std::string p = "model.layers.*.self_attn.";
  w.push_back({p + "q_proj", {d.heads * d.head_dim, d.hidden}, d.layers, false});
  w.push_back({p + "k_proj", {d.kv_heads * d.head_dim, d.hidden}, d.layers, false});
  w.push_back({p + "v_proj", {d.kv_heads * d.head_dim, d.hidden}, d.layers, false});
  w.push_back({p + "o_proj", {d.hidden, d.heads * d.head_dim}, d.layers, false});
}

// gate/up [I, H], down [H, I] under `prefix`, `count` copies.
void add_gated_mlp(const std::string& prefix, int64_t hidden, int64_t inner, int64_t count,
                   std::vector<ModelWeight>& w) {
  w.push_back({prefix + "gate_proj", {inner, hidden}, count, false});
  w.push_back({prefix + "up_proj", {inner, hidden}, count, false});
  w.push_back({prefix + "down_proj", {hidden, inner}, count, false});
}

std::vector<ModelWeight> dense_weights(const ConfigFields& f) {
  const DecoderDims d = decoder_dims(f);
  std::vector<ModelWeight> w;
  add_embeddings(d, w);
  add_attention(d, w);
  add_gated_mlp("model.layers.*.mlp.", d.hidden, f.positive("intermediate_size"), d.layers, w);
  return w;
}

// Mixtral: every layer is sparse; experts w1 (gate) and w3 (up) [I, H], w2 (down) [H, I].
std::vector<ModelWeight> mixtral_weights(const ConfigFields& f) {
  const DecoderDims d = decoder_dims(f);
  const int64_t experts = f.positive("num_local_experts");
  const int64_t inner = f.positive("intermediate_size");
  std::vector<ModelWeight> w;
  add_embeddings(d, w);
  add_attention(d, w);
  const std::string p = "model.layers.*.block_sparse_moe.";
  w.push_back({p + "gate", {experts, d.hidden}, d.layers, false});
  w.push_back({p + "experts.*.w1", {inner, d.hidden}, d.layers * experts, false});
  w.push_back({p + "experts.*.w2", {d.hidden, inner}, d.layers * experts, false});
  w.push_back({p + "experts.*.w3", {inner, d.hidden}, d.layers * experts, false});
  return w;
}

// Qwen2-MoE / Qwen3-MoE: layer i is sparse unless listed in mlp_only_layers or
// (i + 1) % decoder_sparse_step != 0 (transformers' Qwen*MoeDecoderLayer); dense layers use
// intermediate_size. Qwen2-MoE adds a shared expert when shared_expert_intermediate_size > 0.
std::vector<ModelWeight> qwen_moe_weights(const ConfigFields& f) {
  const DecoderDims d = decoder_dims(f);
  const int64_t experts = f.positive("num_experts");
  const int64_t expert_inner = f.positive("moe_intermediate_size");
  const int64_t sparse_step = f.positive_or("decoder_sparse_step", 1);
  const std::set<int64_t> mlp_only = f.index_list_or_empty("mlp_only_layers", d.layers);
  int64_t sparse_layers = 0;
  for (int64_t i = 0; i < d.layers; ++i)
    if (!mlp_only.count(i) && (i + 1) % sparse_step == 0) ++sparse_layers;
  const int64_t dense_layers = d.layers - sparse_layers;

  std::vector<ModelWeight> w;
  add_embeddings(d, w);
  add_attention(d, w);
  if (dense_layers > 0)
    add_gated_mlp("model.layers.*.mlp.", d.hidden, f.positive("intermediate_size"), dense_layers,
                  w);
  if (sparse_layers > 0) {
    w.push_back({"model.layers.*.mlp.gate", {experts, d.hidden}, sparse_layers, false});
    add_gated_mlp("model.layers.*.mlp.experts.*.", d.hidden, expert_inner, sparse_layers * experts,
                  w);
    const int64_t shared_inner = f.non_negative_or("shared_expert_intermediate_size", 0);
    if (shared_inner > 0) {
      add_gated_mlp("model.layers.*.mlp.shared_expert.", d.hidden, shared_inner, sparse_layers, w);
      w.push_back({"model.layers.*.mlp.shared_expert_gate", {1, d.hidden}, sparse_layers, false});
    }
  }
  return w;
}

// GPT-2: Conv1D weights stored [in, out]; n_inner null means 4 * n_embd.
std::vector<ModelWeight> gpt2_weights(const ConfigFields& f) {
  const int64_t h = f.positive("n_embd");
  const int64_t heads = f.positive("n_head");
  const int64_t layers = f.positive("n_layer");
  const int64_t vocab = f.positive("vocab_size");
  const int64_t positions = f.positive("n_positions");
  const int64_t inner = f.positive_or("n_inner", 4 * h);
  ROOTOPT_CHECK(h % heads == 0, f.path(), ": field 'n_embd' (", h,
                ") is not divisible by 'n_head' (", heads, ")");
  const std::string p = "transformer.h.*.";
  return {
      {"transformer.wte", {vocab, h}, 1, true},
      {"transformer.wpe", {positions, h}, 1, true},
      {p + "attn.c_attn", {h, 3 * h}, layers, false},
      {p + "attn.c_proj", {h, h}, layers, false},
      {p + "mlp.c_fc", {h, inner}, layers, false},
      {p + "mlp.c_proj", {inner, h}, layers, false},
      {"lm_head", {vocab, h}, 1, true},
  };
}

std::string read_file(const std::string& path) {
  std::error_code ec;
  const std::filesystem::file_status status = std::filesystem::status(path, ec);
  ROOTOPT_CHECK(std::filesystem::exists(status), path, ": no such file");
  // A FIFO or device would block or never end; a directory cannot be parsed.
  ROOTOPT_CHECK(std::filesystem::is_regular_file(status), path,
                ": not a regular file (a model config is a config.json file)");
  const auto bytes = std::filesystem::file_size(path, ec);
  ROOTOPT_CHECK(!ec, path, ": cannot read model config: ", ec.message());
  ROOTOPT_CHECK(bytes <= uintmax_t(kMaxFileBytes), path, ": ", bytes,
                " bytes, too large for a model config (limit ", kMaxFileBytes >> 20, " MiB)");
  std::ifstream in(path, std::ios::binary);
  ROOTOPT_CHECK(in.good(), path, ": cannot open model config");
  std::string text(size_t(bytes), '\0');
  in.read(text.data(), std::streamsize(text.size()));
  ROOTOPT_CHECK(in.gcount() == std::streamsize(text.size()), path,
                ": cannot read model config (file changed while reading?)");
  return text;
}

json parse_json(const std::string& text, const std::string& path) {
  const json::parser_callback_t bound_nesting = [&path](int depth, json::parse_event_t event,
                                                        json&) {
    const bool opens =
        event == json::parse_event_t::object_start || event == json::parse_event_t::array_start;
    ROOTOPT_CHECK(!opens || depth < kMaxNesting, path, ": JSON nested more than ", kMaxNesting,
                  " levels deep; a model config is an object of size fields");
    return true;
  };
  json root;
  try {
    root = json::parse(text, bound_nesting);
  } catch (const json::exception& e) {
    // A syntax error or a number out of range (1e400): e.what() is
    // "[json.exception.parse_error.101] parse error at line 1, column 9: ...".
    const std::string what = e.what();
    const size_t start = what.find("] ");
    ROOTOPT_FAIL(path, ": malformed JSON: ",
                 detail::excerpt(start == std::string::npos ? what : what.substr(start + 2), 200));
  }
  ROOTOPT_CHECK(root.is_object(), path, ": top level must be a JSON object");
  return root;
}

// Every weight dimension is a size field or a product of them (heads x head_dim, 3 x n_embd):
// each must be a plausible matrix dimension, like a --shapes entry.
void check_weight_shapes(const ModelConfig& config, const std::string& path) {
  for (const ModelWeight& w : config.weights)
    ROOTOPT_CHECK(w.shape.rows <= kMaxDimension && w.shape.cols <= kMaxDimension, path, ": weight ",
                  w.pattern, " would be ", to_string(w.shape), ", a dimension above ",
                  kMaxDimension, " (2^24): the size fields do not describe a real model");
}

}  // namespace

std::vector<Shape> ModelConfig::orthogonalized_shapes() const {
  std::set<Shape> keys;
  for (const ModelWeight& w : weights)
    if (!w.adamw) keys.insert(w.key());
  return {keys.begin(), keys.end()};
}

ModelConfig load_model_config(const std::string& path) {
  return model_config_from_json(read_file(path), path);
}

ModelConfig model_config_from_json(const std::string& text, const std::string& path) {
  const json root = parse_json(text, path);
  const ConfigFields fields(root, path);
  ModelConfig config;
  config.model_type = fields.string_or("model_type", "");
  ROOTOPT_CHECK(!config.model_type.empty(), path, ": missing field 'model_type'");
  config.name = fields.string_or("_name_or_path", std::filesystem::path(path).stem().string());
  const std::string& type = config.model_type;
  if (type == "llama" || type == "mistral" || type == "qwen2" || type == "qwen3") {
    config.weights = dense_weights(fields);
  } else if (type == "mixtral") {
    config.weights = mixtral_weights(fields);
  } else if (type == "qwen2_moe" || type == "qwen3_moe") {
    config.weights = qwen_moe_weights(fields);
  } else if (type == "gpt2") {
    config.weights = gpt2_weights(fields);
  } else {
    ROOTOPT_FAIL(
        path, ": unknown model_type '", detail::excerpt(type),
        "' (supported: llama, mistral, qwen2, qwen3, mixtral, qwen2_moe, qwen3_moe, gpt2)");
  }
  check_weight_shapes(config, path);
  return config;
}

}  // namespace rootopt
