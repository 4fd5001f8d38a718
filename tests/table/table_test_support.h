// Shared fixtures for the table tests: a scratch directory per test and an error-message matcher.
#pragma once

#include <gtest/gtest.h>
#include <hdf5.h>
#include <unistd.h>

#include <filesystem>
#include <initializer_list>
#include <string>

#include "rootopt/error.h"

namespace rootopt::testing {

// A fresh directory per test, removed afterwards.
class ScratchDirTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    dir_ = std::filesystem::temp_directory_path() /
           ("rootopt_" + std::string(info->test_suite_name()) + "_" + info->name() + "_" +
            std::to_string(::getpid()));
    std::filesystem::remove_all(dir_);
    std::filesystem::create_directories(dir_);
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  std::string path(const std::string& name) const { return (dir_ / name).string(); }
  std::filesystem::path dir_;
};

// Whether attribute `name` of `obj` is a variable-length string (the global heap the hardened
// writer never uses).
inline bool is_variable_length_string(hid_t obj, const char* name) {
  const hid_t attribute = H5Aopen(obj, name, H5P_DEFAULT);
  const hid_t type = H5Aget_type(attribute);
  const bool variable = H5Tis_variable_str(type) > 0;
  H5Tclose(type);
  H5Aclose(attribute);
  return variable;
}

// Asserts that `body` throws rootopt::Error whose message contains every one of `parts`.
template <typename Body>
void expect_error(Body&& body, std::initializer_list<std::string> parts) {
  try {
    body();
    ADD_FAILURE() << "expected rootopt::Error";
  } catch (const rootopt::Error& e) {
    for (const auto& part : parts)
      EXPECT_NE(std::string(e.what()).find(part), std::string::npos)
          << "message lacks '" << part << "': " << e.what();
  }
}

}  // namespace rootopt::testing
