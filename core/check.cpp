#include "check.h"

#include <cstring>

namespace rootopt::detail {
namespace {

// "core/h5.cpp" from an absolute __FILE__: the last two path components are enough to find it.
std::string short_path(const char* file) {
  const std::string path(file);
  const size_t last = path.rfind('/');
  if (last == std::string::npos || last == 0) return path;
  const size_t before = path.rfind('/', last - 1);
  return before == std::string::npos ? path : path.substr(before + 1);
}

// "H5Fflush" from "H5Fflush(file.get(), H5F_SCOPE_GLOBAL)".
std::string function_name(const char* call) {
  const char* paren = std::strchr(call, '(');
  return paren == nullptr ? std::string(call) : std::string(call, size_t(paren - call));
}

}  // namespace

void fail(const std::string& message) { throw Error(message); }

void fail_internal(const char* file, int line, const char* condition, const std::string& context) {
  std::string message =
      "internal error at " + short_path(file) + ":" + std::to_string(line) + ": " + condition;
  if (!context.empty()) message += ": " + context;
  throw Error(message + " (a rootopt bug; please report it)");
}

void fail_call(const char* library, const char* call, const std::string& status,
               const std::string& context) {
  std::string message = context.empty() ? std::string() : context + ": ";
  message += std::string(library) + " error in " + function_name(call) + ": " + status;
  throw Error(message);
}

}  // namespace rootopt::detail
