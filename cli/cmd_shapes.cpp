// rootopt shapes CONFIG.json [--json]: every 2-D weight of a Hugging Face config with its shape
// as stored, canonical (min, max) table key and count; embeddings and lm_head marked AdamW.
#include <fmt/core.h>

#include <algorithm>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>

#include "commands.h"
#include "rootopt/model_config.h"

namespace rootopt::cli {
namespace {

struct ShapesArgs {
  std::string config;
  bool json = false;
};

void print_json(const ModelConfig& config) {
  nlohmann::json out;
  out["name"] = config.name;
  out["model_type"] = config.model_type;
  out["weights"] = nlohmann::json::array();
  for (const ModelWeight& w : config.weights)
    out["weights"].push_back({{"pattern", w.pattern},
                              {"shape", {w.shape.rows, w.shape.cols}},
                              {"key", {w.key().rows, w.key().cols}},
                              {"count", w.count},
                              {"adamw", w.adamw}});
  out["orthogonalized_shapes"] = nlohmann::json::array();
  for (const Shape& s : config.orthogonalized_shapes())
    out["orthogonalized_shapes"].push_back({s.rows, s.cols});
  // A name from a file name need not be UTF-8: such bytes print as U+FFFD, as in `rootopt audit`.
  fmt::print("{}\n", out.dump(2, ' ', false, nlohmann::json::error_handler_t::replace));
}

void print_table(const ModelConfig& config) {
  size_t pattern_width = 7;
  for (const ModelWeight& w : config.weights)
    pattern_width = std::max(pattern_width, w.pattern.size());
  fmt::print("{} ({})\n", config.name, config.model_type);
  fmt::print("{:<{}}  {:>13}  {:>13}  {:>6}  {}\n", "pattern", pattern_width, "shape", "key",
             "count", "optimizer");
  for (const ModelWeight& w : config.weights)
    fmt::print("{:<{}}  {:>13}  {:>13}  {:>6}  {}\n", w.pattern, pattern_width, to_string(w.shape),
               to_string(w.key()), w.count, w.adamw ? "AdamW" : "orthogonalized");
  const std::vector<Shape> keys = config.orthogonalized_shapes();
  fmt::print("{} canonical shape(s) to tune:", keys.size());
  for (const Shape& s : keys) fmt::print(" {}", to_string(s));
  fmt::print("\n");
}

}  // namespace

void add_shapes_command(CLI::App& app) {
  auto args = std::make_shared<ShapesArgs>();
  CLI::App* cmd = app.add_subcommand(
      "shapes", "List the 2-D weights of a Hugging Face config.json and their table keys");
  cmd->add_option("config", args->config, "Hugging Face config.json")->required();
  cmd->add_flag("--json", args->json, "Print JSON instead of a table");
  cmd->callback([args] {
    const ModelConfig config = load_model_config(args->config);
    if (args->json)
      print_json(config);
    else
      print_table(config);
  });
}

}  // namespace rootopt::cli
