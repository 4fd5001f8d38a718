/* The C ABI used from a C99 translation unit (compiled as C, -std=c99 -pedantic): proves the
 * header is plain C and runs one step on a 3x4 parameter. Called by c_api_test.cpp. */
#include <stddef.h>

#include "rootopt/rootopt_c.h"

int rootopt_test_step_from_c(const char* table_path, float* weights, const float* grads) {
  rootopt_config config;
  rootopt_optimizer* opt = NULL;
  rootopt_param param = {"c.weight", 1, 3, 4, ROOTOPT_FP32, NULL, NULL, NULL};
  int64_t steps = 0;
  rootopt_status status = rootopt_config_defaults(&config);
  if (status != ROOTOPT_OK) return status;
  config.table_path = table_path;
  config.hyperparams.lr = 0.1f;
  status = rootopt_create(&config, &opt);
  if (status != ROOTOPT_OK) return status;
  param.param = weights;
  param.grad = grads;
  status = rootopt_add_param(opt, &param, NULL);
  if (status == ROOTOPT_OK) status = rootopt_step(opt, NULL);
  if (status == ROOTOPT_OK) status = rootopt_step_count(opt, &steps);
  if (status == ROOTOPT_OK && steps != 1) status = -1;
  rootopt_destroy(opt);
  return status;
}
