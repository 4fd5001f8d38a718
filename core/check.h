// Internal status macros, in two kinds (as google/benchmark's check.h: a location only where it
// helps the developer, never in what a user reads):
//   ROOTOPT_CHECK / ROOTOPT_FAIL   input a user controls (files, options, sizes, hyperparameters).
//                                  The rootopt::Error says what is wrong and where in the user's
//                                  terms (file, field, shape, parameter); no source location.
//   ROOTOPT_ASSERT                 internal invariants that only a rootopt bug can break. The
//                                  message carries file:line and the failed condition.
// Failures of the libraries rootopt calls (HDF5 here, CUDA/cuBLAS/cuSOLVER in cuda_status.h)
// name the library function and its status after the caller's context, also without location.
#pragma once

#include <sstream>
#include <string>

#include "rootopt/error.h"

namespace rootopt::detail {

// Throws rootopt::Error(message).
[[noreturn]] void fail(const std::string& message);
// Throws rootopt::Error("internal error at <file:line>: <condition>: <context>").
[[noreturn]] void fail_internal(const char* file, int line, const char* condition,
                                const std::string& context);
// Throws rootopt::Error("<context>: <library> error in <function>: <status>"), where <function>
// is the name of the called function taken from the call's source text.
[[noreturn]] void fail_call(const char* library, const char* call, const std::string& status,
                            const std::string& context);

// `text` as a message may echo it: control bytes shown as \xNN, and anything past `limit` bytes
// cut and replaced by its length, so a 50 MB value or a terminal escape sequence in a user's
// file neither floods nor garbles the message.
std::string excerpt(const std::string& text, size_t limit = 80);

// Builds a message from any streamable pieces: ROOTOPT_CHECK(x > 0, "x = ", x).
template <typename... Parts>
std::string concat(const Parts&... parts) {
  std::ostringstream out;
  (out << ... << parts);
  return out.str();
}

}  // namespace rootopt::detail

#define ROOTOPT_FAIL(...) ::rootopt::detail::fail(::rootopt::detail::concat(__VA_ARGS__))

// Throws rootopt::Error with the given message when `cond` is false (user-controlled input).
#define ROOTOPT_CHECK(cond, ...)                                                  \
  do {                                                                            \
    if (!(cond)) ::rootopt::detail::fail(::rootopt::detail::concat(__VA_ARGS__)); \
  } while (0)

// Throws an "internal error" rootopt::Error naming file:line when an invariant is broken.
#define ROOTOPT_ASSERT(cond, ...)                                               \
  do {                                                                          \
    if (!(cond))                                                                \
      ::rootopt::detail::fail_internal(__FILE__, __LINE__, #cond,               \
                                       ::rootopt::detail::concat(__VA_ARGS__)); \
  } while (0)

// HDF5 C API: negative return values signal failure; the message ends with HDF5's own reason
// (see h5::error_stack) where the caller's context includes it.
#define ROOTOPT_H5_CHECK(call, ...)                                         \
  ([&]() {                                                                  \
    auto rootopt_h5_status_ = (call);                                       \
    if (rootopt_h5_status_ < 0)                                             \
      ::rootopt::detail::fail_call("HDF5", #call, "failed",                 \
                                   ::rootopt::detail::concat(__VA_ARGS__)); \
    return rootopt_h5_status_;                                              \
  }())
