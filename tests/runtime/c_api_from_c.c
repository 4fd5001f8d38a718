/* The C ABI used from a C99 translation unit (compiled as C, -std=c99 -pedantic): proves the
 * header is plain C and runs one step on a 3x4 parameter. Called by c_api_test.cpp. */
#include <stddef.h>

#include "rootopt/rootopt_c.h"

int rootopt_test_step_from_c(const char* table_path, float* weights, const float* grads) {
  rootopt_config config;
  rootopt_hyperparams hyperparams;
  rootopt_optimizer* opt = NULL;
  rootopt_param param;
  int64_t steps = 0;
  rootopt_status status = rootopt_config_defaults(&config, sizeof config);
  if (status == ROOTOPT_OK) status = rootopt_hyperparams_defaults(&hyperparams, sizeof hyperparams);
  if (status == ROOTOPT_OK) status = rootopt_param_defaults(&param, sizeof param);
  if (status != ROOTOPT_OK) return status;
  config.table_path = table_path;
  hyperparams.lr = 0.1f;
  config.hyperparams = &hyperparams;
  status = rootopt_create(&config, &opt);
  if (status != ROOTOPT_OK) return status;
  param.name = "c.weight";
  param.rows = 3;
  param.cols = 4;
  param.param = weights;
  param.grad = grads;
  status = rootopt_add_param(opt, &param, NULL);
  if (status == ROOTOPT_OK) status = rootopt_step(opt, NULL);
  if (status == ROOTOPT_OK) status = rootopt_step_count(opt, &steps);
  if (status == ROOTOPT_OK && steps != 1) status = -1;
  rootopt_destroy(opt);
  return status;
}
