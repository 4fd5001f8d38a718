// Internal status macros. Every failure becomes a rootopt::Error whose message names the
// source location, the failing call or condition, and caller-supplied context.
#pragma once

#include <sstream>
#include <string>

#include "rootopt/error.h"

namespace rootopt::detail {

[[noreturn]] void fail(const char* file, int line, const std::string& what,
                       const std::string& context);

// Builds a context string from any streamable pieces: ROOTOPT_CHECK(x > 0, "x = ", x).
template <typename... Parts>
std::string concat(const Parts&... parts) {
  std::ostringstream out;
  (out << ... << parts);
  return out.str();
}

}  // namespace rootopt::detail

#define ROOTOPT_FAIL(...) \
  ::rootopt::detail::fail(__FILE__, __LINE__, "error", ::rootopt::detail::concat(__VA_ARGS__))

// Throws rootopt::Error when `cond` is false.
#define ROOTOPT_CHECK(cond, ...)                                          \
  do {                                                                    \
    if (!(cond))                                                          \
      ::rootopt::detail::fail(__FILE__, __LINE__, "check failed: " #cond, \
                              ::rootopt::detail::concat(__VA_ARGS__));    \
  } while (0)

// HDF5 C API: negative return values signal failure.
#define ROOTOPT_H5_CHECK(call, ...)                                           \
  ([&]() {                                                                    \
    auto rootopt_h5_status_ = (call);                                         \
    if (rootopt_h5_status_ < 0)                                               \
      ::rootopt::detail::fail(__FILE__, __LINE__, "HDF5 call failed: " #call, \
                              ::rootopt::detail::concat(__VA_ARGS__));        \
    return rootopt_h5_status_;                                                \
  }())
