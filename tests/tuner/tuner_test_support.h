// Shared helpers of the tuner tests: a scratch directory per test, small fast options, and a
// spectrum family with fixed values for constructed problems.
#pragma once

#include <gtest/gtest.h>

#include <unistd.h>
#include <filesystem>
#include <fstream>
#include <memory>
#include <string>

#include "rootopt/tuner.h"

namespace rootopt::testing {

class ScratchDir : public ::testing::Test {
 protected:
  void SetUp() override {
    const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    dir_ = std::filesystem::temp_directory_path() /
           (std::string("rootopt_tuner_") + info->test_suite_name() + "_" + info->name() + "_" +
            std::to_string(::getpid()));
    std::filesystem::remove_all(dir_);
    std::filesystem::create_directories(dir_);
  }
  void TearDown() override {
    std::filesystem::permissions(dir_, std::filesystem::perms::owner_all,
                                 std::filesystem::perm_options::add);
    std::filesystem::remove_all(dir_);
  }
  std::string path(const std::string& name) const { return (dir_ / name).string(); }
  std::string write(const std::string& name, const std::string& text) const {
    std::ofstream(path(name)) << text;
    return path(name);
  }
  std::filesystem::path dir_;
};

// Every sample is the same fixed list of values (cycled to the shape's rank).
class FixedSpectrum final : public SpectrumFamily {
 public:
  explicit FixedSpectrum(Spectrum values) : values_(std::move(values)) {}
  std::string name() const override { return "fixed"; }
  FamilyParams params() const override { return {}; }
  Spectrum sample(Shape shape, uint64_t) const override {
    Spectrum s;
    for (int64_t i = 0; i < shape.rank(); ++i) s.push_back(values_[size_t(i) % values_.size()]);
    return s;
  }

 private:
  Spectrum values_;
};

// Options small enough for a unit test (well under a second per shape): few samples, one
// candidate recipe (5 standard steps, Schatten-8, no tail), short validation on proxy matrices
// of rank <= 16, no real held-out set unless a test adds it.
inline TuneOptions fast_options() {
  TuneOptions o;
  o.mixture = std::make_shared<SpectrumMixture>(
      SpectrumMixture::parse("low-rank*0.3,power-law*0.3,marchenko-pastur*0.4"));
  o.samples = 12;
  o.heldout_samples = 12;
  o.recipes.steps = 5;
  o.recipes.forms = {IterationForm::standard};
  o.recipes.precision_tails = false;
  o.search.local_max_evals = 150;
  o.search.points_per_spectrum = 32;
  o.search.constraint_grid = 64;
  o.validation.selection_matrices = 2;
  o.validation.matrices = 2;
  o.validation.max_rank = 16;
  return o;
}

// fast_options() with the whole recipe search of the defaults: every K, form, restart pattern
// and tail within the budget.
inline TuneOptions fast_search_options() {
  TuneOptions o = fast_options();
  o.recipes = RecipeSpace{};
  return o;
}

}  // namespace rootopt::testing
