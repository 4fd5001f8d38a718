// Internal: constructors of the individual spectrum families and the parameter validation they
// share. make_family() in spectrum_family.cpp parses a spec and dispatches here.
#pragma once

#include <memory>
#include <random>
#include <string>

#include "rootopt/spectrum_family.h"

namespace rootopt::detail {

// Merges `given` over `defaults`; throws naming the family on an unknown key.
FamilyParams merge_params(const std::string& family, const FamilyParams& defaults,
                          const FamilyParams& given);
// Throws unless lo <= params[key] <= hi (inclusive), naming family, key and range.
void check_range(const std::string& family, const FamilyParams& params, const std::string& key,
                 double lo, double hi);
// Throws unless params[lo_key] <= params[hi_key].
void check_ordered(const std::string& family, const FamilyParams& params, const std::string& lo_key,
                   const std::string& hi_key);

// Singular values (descending, unnormalised) of an m x n Gaussian matrix: exact (SVD of a
// sampled matrix) when r <= exact_max_rank and the matrix is small enough, else stratified
// quantiles of the Marchenko-Pastur law.
Spectrum gaussian_singular_values(Shape shape, int64_t exact_max_rank, std::mt19937_64& rng);

std::unique_ptr<SpectrumFamily> make_marchenko_pastur(const FamilyParams& params);
std::unique_ptr<SpectrumFamily> make_power_law(const FamilyParams& params);
std::unique_ptr<SpectrumFamily> make_low_rank(const FamilyParams& params);
std::unique_ptr<SpectrumFamily> make_decay_floor(const FamilyParams& params);

}  // namespace rootopt::detail
