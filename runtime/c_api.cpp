// The C ABI (rootopt/rootopt_c.h) over rootopt::Optimizer: converts the POD structs (reading
// only the caller's struct_size bytes), catches every exception at the boundary and keeps its
// message per thread.
#include "rootopt/rootopt_c.h"

#include <cstring>
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

// What a struct's name is in messages, and the size of its first published version: a caller's
// struct_size must be at least that (every field of version 1 present). When a field is added at
// the end of a struct, its first size stays the old sizeof (the new field's offsetof).
template <typename T>
struct StructInfo;
template <>
struct StructInfo<rootopt_hyperparams> {
  static constexpr const char* name = "rootopt_hyperparams";
  static constexpr size_t first_size = sizeof(rootopt_hyperparams);
};
template <>
struct StructInfo<rootopt_config> {
  static constexpr const char* name = "rootopt_config";
  static constexpr size_t first_size = sizeof(rootopt_config);
};
template <>
struct StructInfo<rootopt_param> {
  static constexpr const char* name = "rootopt_param";
  static constexpr size_t first_size = sizeof(rootopt_param);
};

// Throws unless `struct_size` is a size of T this library knows.
template <typename T>
void check_struct_size(uint32_t struct_size) {
  using Info = StructInfo<T>;
  if (struct_size < Info::first_size) {
    throw rootopt::Error(std::string(Info::name) + ".struct_size = " + std::to_string(struct_size) +
                         " is smaller than any version of it (" + std::to_string(Info::first_size) +
                         "): fill the struct with its " +
                         "*_defaults function first, passing sizeof the struct");
  }
  if (struct_size > sizeof(T)) {
    throw rootopt::Error(std::string(Info::name) + ".struct_size = " + std::to_string(struct_size) +
                         " is larger than this library's (" + std::to_string(sizeof(T)) +
                         "): the caller was built against a newer rootopt_c.h than the library");
  }
}

// The caller's struct over `defaults`: its first struct_size bytes, the defaults after them.
template <typename T>
T read_struct(const T& in, const T& defaults) {
  check_struct_size<T>(in.struct_size);
  T out = defaults;
  std::memcpy(&out, &in, in.struct_size);
  out.struct_size = sizeof(T);
  return out;
}

// Writes the first `struct_size` bytes of `value` into *out, the caller's struct.
template <typename T>
void write_struct(T* out, const T& value, uint32_t struct_size) {
  check_struct_size<T>(struct_size);
  std::memcpy(out, &value, struct_size);
  out->struct_size = struct_size;
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
  rootopt_hyperparams out{};
  out.struct_size = sizeof(rootopt_hyperparams);
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

rootopt_hyperparams default_hyperparams() { return to_c(rootopt::Hyperparams{}); }

rootopt_config default_config() {
  const rootopt::OptimizerConfig defaults;
  rootopt_config out{};
  out.struct_size = sizeof(rootopt_config);
  out.table_path = nullptr;
  out.fallback = static_cast<int32_t>(defaults.fallback.kind);
  out.fallback_schedule = nullptr;  // the C++ default ("polar-express")
  out.device = static_cast<int32_t>(defaults.device);
  out.hyperparams = nullptr;  // the defaults
  out.cpu_threads = static_cast<int32_t>(defaults.cpu_threads);
  out.fallback_steps = static_cast<int32_t>(defaults.fallback.steps);
  out.fallback_normalization = static_cast<int32_t>(defaults.fallback.normalization);
  return out;
}

rootopt_param default_param() {
  rootopt_param out{};
  out.struct_size = sizeof(rootopt_param);
  out.batch = 1;
  out.dtype = ROOTOPT_FP32;
  return out;
}

rootopt::ParamSpec to_cpp(const rootopt_param& caller) {
  const rootopt_param p = read_struct(caller, default_param());
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

rootopt::OptimizerConfig to_cpp(const rootopt_config& caller) {
  const rootopt_config c = read_struct(caller, default_config());
  if (c.fallback < ROOTOPT_FALLBACK_ERROR || c.fallback > ROOTOPT_FALLBACK_NAMED) {
    throw rootopt::Error("rootopt_create: fallback has invalid value " +
                         std::to_string(c.fallback));
  }
  if (c.fallback_normalization < ROOTOPT_NORMALIZATION_FROBENIUS ||
      c.fallback_normalization > ROOTOPT_NORMALIZATION_SCHATTEN8) {
    throw rootopt::Error("rootopt_create: fallback_normalization has invalid value " +
                         std::to_string(c.fallback_normalization));
  }
  rootopt::OptimizerConfig out;
  out.table_path = c.table_path != nullptr ? c.table_path : "";
  out.fallback.kind = static_cast<rootopt::FallbackPolicy::Kind>(c.fallback);
  if (c.fallback_schedule != nullptr) out.fallback.schedule_name = c.fallback_schedule;
  out.fallback.steps = c.fallback_steps;
  out.fallback.normalization = static_cast<rootopt::Normalization>(c.fallback_normalization);
  out.device = static_cast<rootopt::Device>(c.device);
  if (c.hyperparams != nullptr) {
    out.hyperparams = to_cpp(read_struct(*c.hyperparams, default_hyperparams()));
  }
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

rootopt_status rootopt_hyperparams_defaults(rootopt_hyperparams* out, uint32_t struct_size) {
  if (out == nullptr) return invalid("out");
  return guarded([&] { write_struct(out, default_hyperparams(), struct_size); });
}

rootopt_status rootopt_config_defaults(rootopt_config* out, uint32_t struct_size) {
  if (out == nullptr) return invalid("out");
  return guarded([&] { write_struct(out, default_config(), struct_size); });
}

rootopt_status rootopt_param_defaults(rootopt_param* out, uint32_t struct_size) {
  if (out == nullptr) return invalid("out");
  return guarded([&] { write_struct(out, default_param(), struct_size); });
}

rootopt_status rootopt_create(const rootopt_config* config, rootopt_optimizer** out) {
  if (config == nullptr) return invalid("config");
  if (out == nullptr) return invalid("out");
  *out = nullptr;
  return guarded([&] { *out = new rootopt_optimizer(to_cpp(*config)); });
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
  return guarded([&] {
    optimizer->optimizer.set_hyperparams(to_cpp(read_struct(*hyperparams, default_hyperparams())));
  });
}

rootopt_status rootopt_get_hyperparams(const rootopt_optimizer* optimizer,
                                       rootopt_hyperparams* out) {
  if (optimizer == nullptr) return invalid("optimizer");
  if (out == nullptr) return invalid("out");
  return guarded(
      [&] { write_struct(out, to_c(optimizer->optimizer.hyperparams()), out->struct_size); });
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
