// The C ABI (rootopt/rootopt_c.h) over rootopt::Optimizer: converts the POD structs, catches
// every exception at the boundary and keeps its message per thread.
#include "rootopt/rootopt_c.h"

#include <new>
#include <string>
#include <vector>

#include "rootopt/error.h"
#include "rootopt/optimizer.h"

struct rootopt_optimizer {
  explicit rootopt_optimizer(const rootopt::OptimizerConfig& config) : optimizer(config) {}
  rootopt::Optimizer optimizer;
  std::vector<std::string> skipped;  // last_report().skipped, kept for the name pointers
};

namespace {

thread_local std::string last_error;

// Runs `body`, turning every exception into a status and a thread-local message.
template <typename Body>
rootopt_status guarded(Body&& body) {
  try {
    last_error.clear();
    body();
    return ROOTOPT_OK;
  } catch (const rootopt::Error& e) {
    last_error = e.what();
    return ROOTOPT_ERROR;
  } catch (const std::bad_alloc&) {
    last_error = "out of memory";
    return ROOTOPT_ERROR_OUT_OF_MEMORY;
  } catch (const std::exception& e) {
    last_error = e.what();
    return ROOTOPT_ERROR_UNKNOWN;
  } catch (...) {
    last_error = "unknown exception";
    return ROOTOPT_ERROR_UNKNOWN;
  }
}

rootopt_status invalid(const char* what) {
  last_error = std::string("invalid argument: ") + what + " is NULL";
  return ROOTOPT_ERROR_INVALID_ARGUMENT;
}

rootopt::Hyperparams to_cpp(const rootopt_hyperparams& h) {
  rootopt::Hyperparams out;
  out.lr = h.lr;
  out.momentum = h.momentum;
  out.nesterov = h.nesterov != 0;
  out.weight_decay = h.weight_decay;
  out.threshold = static_cast<rootopt::ThresholdMode>(h.threshold);
  out.threshold_quantile = h.threshold_quantile;
  out.threshold_value = h.threshold_value;
  out.precision = static_cast<rootopt::Precision>(h.precision);
  out.scale = static_cast<rootopt::ScaleMode>(h.scale);
  return out;
}

rootopt_hyperparams to_c(const rootopt::Hyperparams& h) {
  rootopt_hyperparams out;
  out.lr = h.lr;
  out.momentum = h.momentum;
  out.nesterov = h.nesterov ? 1 : 0;
  out.weight_decay = h.weight_decay;
  out.threshold = static_cast<int32_t>(h.threshold);
  out.threshold_quantile = h.threshold_quantile;
  out.threshold_value = h.threshold_value;
  out.precision = static_cast<int32_t>(h.precision);
  out.scale = static_cast<int32_t>(h.scale);
  return out;
}

rootopt::ParamSpec to_cpp(const rootopt_param& p) {
  rootopt::ParamSpec out;
  out.name = p.name != nullptr ? p.name : "";
  out.batch = p.batch;
  out.rows = p.rows;
  out.cols = p.cols;
  out.dtype = static_cast<rootopt::DType>(p.dtype);
  out.param = p.param;
  out.grad = p.grad;
  out.momentum = p.momentum;
  return out;
}

rootopt::OptimizerConfig to_cpp(const rootopt_config& c) {
  rootopt::OptimizerConfig out;
  out.table_path = c.table_path != nullptr ? c.table_path : "";
  out.fallback.kind = static_cast<rootopt::FallbackPolicy::Kind>(c.fallback);
  if (c.fallback_schedule != nullptr) out.fallback.schedule_name = c.fallback_schedule;
  out.device = static_cast<rootopt::Device>(c.device);
  out.hyperparams = to_cpp(c.hyperparams);
  out.cpu_threads = c.cpu_threads;
  if (c.warn != nullptr) {
    out.warn = [fn = c.warn, data = c.warn_user_data](const std::string& message) {
      fn(message.c_str(), data);
    };
  }
  return out;
}

}  // namespace

extern "C" {

const char* rootopt_last_error(void) { return last_error.c_str(); }

rootopt_status rootopt_hyperparams_defaults(rootopt_hyperparams* out) {
  if (out == nullptr) return invalid("out");
  return guarded([&] { *out = to_c(rootopt::Hyperparams{}); });
}

rootopt_status rootopt_config_defaults(rootopt_config* out) {
  if (out == nullptr) return invalid("out");
  return guarded([&] {
    const rootopt::OptimizerConfig defaults;
    *out = rootopt_config{};
    out->table_path = nullptr;
    out->fallback = static_cast<int32_t>(defaults.fallback.kind);
    out->fallback_schedule = nullptr;  // the C++ default ("polar-express")
    out->device = static_cast<int32_t>(defaults.device);
    out->hyperparams = to_c(defaults.hyperparams);
    out->cpu_threads = static_cast<int32_t>(defaults.cpu_threads);
  });
}

rootopt_status rootopt_create(const rootopt_config* config, rootopt_optimizer** out) {
  if (config == nullptr) return invalid("config");
  if (out == nullptr) return invalid("out");
  *out = nullptr;
  return guarded([&] {
    if (config->fallback < ROOTOPT_FALLBACK_ERROR || config->fallback > ROOTOPT_FALLBACK_NAMED) {
      throw rootopt::Error("rootopt_create: fallback has invalid value " +
                           std::to_string(config->fallback));
    }
    *out = new rootopt_optimizer(to_cpp(*config));
  });
}

rootopt_status rootopt_destroy(rootopt_optimizer* optimizer) {
  return guarded([&] { delete optimizer; });
}

rootopt_status rootopt_add_param(rootopt_optimizer* optimizer, const rootopt_param* param,
                                 int64_t* id_out) {
  if (optimizer == nullptr) return invalid("optimizer");
  if (param == nullptr) return invalid("param");
  return guarded([&] {
    const int64_t id = optimizer->optimizer.add_param(to_cpp(*param));
    if (id_out != nullptr) *id_out = id;
  });
}

rootopt_status rootopt_rebind(rootopt_optimizer* optimizer, int64_t id,
                              const rootopt_param* param) {
  if (optimizer == nullptr) return invalid("optimizer");
  if (param == nullptr) return invalid("param");
  return guarded([&] { optimizer->optimizer.rebind(id, to_cpp(*param)); });
}

rootopt_status rootopt_num_params(const rootopt_optimizer* optimizer, int64_t* out) {
  if (optimizer == nullptr) return invalid("optimizer");
  if (out == nullptr) return invalid("out");
  return guarded([&] { *out = optimizer->optimizer.num_params(); });
}

rootopt_status rootopt_set_hyperparams(rootopt_optimizer* optimizer,
                                       const rootopt_hyperparams* hyperparams) {
  if (optimizer == nullptr) return invalid("optimizer");
  if (hyperparams == nullptr) return invalid("hyperparams");
  return guarded([&] { optimizer->optimizer.set_hyperparams(to_cpp(*hyperparams)); });
}

rootopt_status rootopt_get_hyperparams(const rootopt_optimizer* optimizer,
                                       rootopt_hyperparams* out) {
  if (optimizer == nullptr) return invalid("optimizer");
  if (out == nullptr) return invalid("out");
  return guarded([&] { *out = to_c(optimizer->optimizer.hyperparams()); });
}

rootopt_status rootopt_step(rootopt_optimizer* optimizer, void* stream) {
  if (optimizer == nullptr) return invalid("optimizer");
  return guarded([&] { optimizer->optimizer.step(stream); });
}

rootopt_status rootopt_step_count(const rootopt_optimizer* optimizer, int64_t* out) {
  if (optimizer == nullptr) return invalid("optimizer");
  if (out == nullptr) return invalid("out");
  return guarded([&] { *out = optimizer->optimizer.last_report().step; });
}

rootopt_status rootopt_last_skipped_count(rootopt_optimizer* optimizer, int64_t* out) {
  if (optimizer == nullptr) return invalid("optimizer");
  if (out == nullptr) return invalid("out");
  return guarded([&] {
    optimizer->skipped = optimizer->optimizer.last_report().skipped;
    *out = static_cast<int64_t>(optimizer->skipped.size());
  });
}

rootopt_status rootopt_last_skipped_name(const rootopt_optimizer* optimizer, int64_t index,
                                         const char** out) {
  if (optimizer == nullptr) return invalid("optimizer");
  if (out == nullptr) return invalid("out");
  return guarded([&] {
    if (index < 0 || index >= static_cast<int64_t>(optimizer->skipped.size())) {
      throw rootopt::Error("rootopt_last_skipped_name: index " + std::to_string(index) +
                           " outside [0, " + std::to_string(optimizer->skipped.size()) +
                           ") (call rootopt_last_skipped_count first)");
    }
    *out = optimizer->skipped[static_cast<size_t>(index)].c_str();
  });
}

rootopt_status rootopt_save_state(const rootopt_optimizer* optimizer, const char* path) {
  if (optimizer == nullptr) return invalid("optimizer");
  if (path == nullptr) return invalid("path");
  return guarded([&] { optimizer->optimizer.save_state(path); });
}

rootopt_status rootopt_load_state(rootopt_optimizer* optimizer, const char* path) {
  if (optimizer == nullptr) return invalid("optimizer");
  if (path == nullptr) return invalid("path");
  return guarded([&] { optimizer->optimizer.load_state(path); });
}

int32_t rootopt_cuda_available(void) {
  try {
    return rootopt::Optimizer::cuda_available() ? 1 : 0;
  } catch (...) {
    return 0;
  }
}

}  // extern "C"
