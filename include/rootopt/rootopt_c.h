/* C ABI of the rootopt runtime (rootopt/optimizer.h), for bindings from other languages.
 *
 * Every function but rootopt_last_error and rootopt_cuda_available returns a rootopt_status; on
 * failure, rootopt_last_error() returns a message for the calling thread (valid until that
 * thread's next rootopt call). No C++ exception crosses this boundary. Enums are passed as
 * int32_t with the ROOTOPT_* values below.
 *
 * Structs can grow: each starts with `struct_size`, the sizeof the struct had in the header the
 * caller was compiled with, and the library reads and writes only that many bytes. Fill a struct
 * with its *_defaults function first (which sets struct_size), then change what you need:
 *     rootopt_config config;
 *     rootopt_config_defaults(&config, sizeof config);
 * A caller built against an older header (a smaller struct) gets the defaults for the fields it
 * does not know; a struct larger than this library's (a newer header) is refused. */
#ifndef ROOTOPT_ROOTOPT_C_H
#define ROOTOPT_ROOTOPT_C_H

#include <stdint.h>

/* Exported from librootopt_c.so, which hides every other symbol. */
#if defined(__GNUC__)
#define ROOTOPT_C_API __attribute__((visibility("default")))
#else
#define ROOTOPT_C_API
#endif

#ifdef __cplusplus
extern "C" {
#endif

typedef int32_t rootopt_status;
#define ROOTOPT_OK 0
#define ROOTOPT_ERROR_INVALID_ARGUMENT 1 /* null handle/struct pointer from the caller */
#define ROOTOPT_ERROR 2                  /* rootopt::Error: bad input, file, device ... */
#define ROOTOPT_ERROR_OUT_OF_MEMORY 3
#define ROOTOPT_ERROR_UNKNOWN 4

/* dtype */
#define ROOTOPT_FP32 0
#define ROOTOPT_BF16 1
/* device */
#define ROOTOPT_DEVICE_CPU 0
#define ROOTOPT_DEVICE_CUDA 1
/* threshold */
#define ROOTOPT_THRESHOLD_QUANTILE 0
#define ROOTOPT_THRESHOLD_FIXED 1
#define ROOTOPT_THRESHOLD_OFF 2
/* Newton-Schulz precision */
#define ROOTOPT_PRECISION_FP32 1
#define ROOTOPT_PRECISION_BF16 2
/* scale */
#define ROOTOPT_SCALE_RMS 0
#define ROOTOPT_SCALE_SPECTRAL 1
#define ROOTOPT_SCALE_NONE 2
/* fallback for shapes the table lacks */
#define ROOTOPT_FALLBACK_ERROR 0
#define ROOTOPT_FALLBACK_NEAREST 1
#define ROOTOPT_FALLBACK_NAMED 2
/* normalization of a named fallback schedule (docs/recipes.md) */
#define ROOTOPT_NORMALIZATION_FROBENIUS 0
#define ROOTOPT_NORMALIZATION_SCHATTEN4 1
#define ROOTOPT_NORMALIZATION_SCHATTEN8 2

typedef struct rootopt_hyperparams {
  uint32_t struct_size; /* sizeof(rootopt_hyperparams) in the caller's header */
  float lr;
  float momentum;
  int32_t nesterov; /* 0 or 1 */
  float weight_decay;
  int32_t threshold; /* ROOTOPT_THRESHOLD_* */
  float threshold_quantile;
  float threshold_value;
  int32_t precision; /* ROOTOPT_PRECISION_* */
  int32_t scale;     /* ROOTOPT_SCALE_* */
} rootopt_hyperparams;

/* Receives each warning (fallback shapes; skipped parameters on the CPU). */
typedef void (*rootopt_warn_fn)(const char* message, void* user_data);

typedef struct rootopt_config {
  uint32_t struct_size;                   /* sizeof(rootopt_config) in the caller's header */
  const char* table_path;                 /* NULL or "": no table, every shape uses the fallback */
  int32_t fallback;                       /* ROOTOPT_FALLBACK_* */
  const char* fallback_schedule;          /* built-in schedule name for ROOTOPT_FALLBACK_NAMED */
  int32_t device;                         /* ROOTOPT_DEVICE_* */
  const rootopt_hyperparams* hyperparams; /* NULL: the defaults; read by rootopt_create only */
  rootopt_warn_fn warn;                   /* NULL: warnings go to stderr */
  void* warn_user_data;
  int32_t cpu_threads; /* CPU backend: parameters stepped in parallel (0: all hardware threads) */
  int32_t fallback_steps;         /* steps of the named fallback schedule (default 5) */
  int32_t fallback_normalization; /* ROOTOPT_NORMALIZATION_* of the named fallback schedule */
} rootopt_config;

/* One parameter: batch matrices of rows x cols, row-major, contiguous (see optimizer.h). The
 * momentum buffer, when given, must hold batch * rows * cols floats and stay alive: the library
 * cannot check a raw pointer's extent. */
typedef struct rootopt_param {
  uint32_t struct_size; /* sizeof(rootopt_param) in the caller's header */
  const char* name;
  int64_t batch;
  int64_t rows;
  int64_t cols;
  int32_t dtype; /* ROOTOPT_FP32 | ROOTOPT_BF16, of param and grad */
  void* param;
  const void* grad;
  float* momentum; /* NULL: the optimizer allocates it (zeroed) */
} rootopt_param;

typedef struct rootopt_optimizer rootopt_optimizer; /* opaque */

ROOTOPT_C_API const char* rootopt_last_error(void);

/* Write the defaults into the first `struct_size` bytes of *out (pass sizeof *out) and set
 * out->struct_size. rootopt_param's defaults: no name, batch 1, no sizes, fp32, no pointers. */
ROOTOPT_C_API rootopt_status rootopt_hyperparams_defaults(rootopt_hyperparams* out,
                                                          uint32_t struct_size);
ROOTOPT_C_API rootopt_status rootopt_config_defaults(rootopt_config* out, uint32_t struct_size);
ROOTOPT_C_API rootopt_status rootopt_param_defaults(rootopt_param* out, uint32_t struct_size);

ROOTOPT_C_API rootopt_status rootopt_create(const rootopt_config* config, rootopt_optimizer** out);
ROOTOPT_C_API rootopt_status rootopt_destroy(rootopt_optimizer* optimizer); /* NULL is a no-op */

ROOTOPT_C_API rootopt_status rootopt_add_param(rootopt_optimizer* optimizer,
                                               const rootopt_param* param, int64_t* id_out);
ROOTOPT_C_API rootopt_status rootopt_rebind(rootopt_optimizer* optimizer, int64_t id,
                                            const rootopt_param* param);
ROOTOPT_C_API rootopt_status rootopt_num_params(const rootopt_optimizer* optimizer, int64_t* out);

ROOTOPT_C_API rootopt_status rootopt_set_hyperparams(rootopt_optimizer* optimizer,
                                                     const rootopt_hyperparams* hyperparams);
/* Writes out->struct_size bytes (set it first, e.g. with rootopt_hyperparams_defaults). */
ROOTOPT_C_API rootopt_status rootopt_get_hyperparams(const rootopt_optimizer* optimizer,
                                                     rootopt_hyperparams* out);

/* One step; `stream` is a cudaStream_t on the CUDA device (NULL: default stream), ignored on
 * the CPU. */
ROOTOPT_C_API rootopt_status rootopt_step(rootopt_optimizer* optimizer, void* stream);
ROOTOPT_C_API rootopt_status rootopt_step_count(const rootopt_optimizer* optimizer, int64_t* out);
/* Parameters the last step skipped (NaN/Inf gradient). May synchronise the step's stream.
 * The name pointer stays valid until the next call of rootopt_last_skipped_count or step. */
ROOTOPT_C_API rootopt_status rootopt_last_skipped_count(rootopt_optimizer* optimizer, int64_t* out);
ROOTOPT_C_API rootopt_status rootopt_last_skipped_name(const rootopt_optimizer* optimizer,
                                                       int64_t index, const char** out);

ROOTOPT_C_API rootopt_status rootopt_save_state(const rootopt_optimizer* optimizer,
                                                const char* path);
ROOTOPT_C_API rootopt_status rootopt_load_state(rootopt_optimizer* optimizer, const char* path);

/* 1 when this build has the CUDA backend and a device is present, else 0. */
ROOTOPT_C_API int32_t rootopt_cuda_available(void);

#ifdef __cplusplus
}
#endif

#endif /* ROOTOPT_ROOTOPT_C_H */
