// --matrices: the user's captured matrices (one 2-D dataset each, e.g. momentum buffers saved
// during training) assigned to the weights of a model.
//
// Matching, per dataset (docs/audit.md):
//  1. by name: a component of the dataset path (a trailing ".weight" ignored) matches a weight's
//     pattern when their dot-separated segments agree from the end until either runs out, a "*"
//     in the pattern matching any one segment: "layers.3.mlp.down_proj" and "down_proj" both
//     match "model.layers.*.mlp.down_proj". Among name matches, those whose canonical shape equals
//     the dataset's are kept; a name match with no such shape is an error.
//  2. else by shape: every audited weight stored with the dataset's shape, or when there is none,
//     every audited weight with its canonical (transposed) shape.
// A dataset that matches nothing, matches several weights of different names by name alone, or
// matches a weight left to AdamW, is an error naming the dataset; so are datasets that are not
// 2-D, not floating point, or hold non-finite values.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "rootopt/hdf5_matrices.h"
#include "rootopt/model_config.h"

namespace rootopt::audit {

struct UserMatrices {
  std::vector<NamedMatrix> matrices;
  std::vector<std::vector<int64_t>> by_weight;  // per model weight: indices into `matrices`
};

UserMatrices load_user_matrices(const std::string& path, const ModelConfig& model);

// "matrices: <first dataset names> (+N more)" for a report row.
std::string describe_datasets(const UserMatrices& user, const std::vector<int64_t>& datasets);

// Name rule 1 above for one dataset path.
bool dataset_matches_pattern(const std::string& dataset, const std::string& pattern);

}  // namespace rootopt::audit
