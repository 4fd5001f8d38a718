#include "check.h"

#include <algorithm>
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

std::string excerpt(const std::string& text, size_t limit) {
  size_t end = std::min(text.size(), limit);
  // Cut before a UTF-8 continuation byte, not inside a character.
  for (int back = 0; end < text.size() && back < 3 && (text[end] & 0xC0) == 0x80; ++back) --end;
  std::string out;
  for (size_t i = 0; i < end; ++i) {
    const unsigned char ch = static_cast<unsigned char>(text[i]);
    if (ch < 0x20 || ch == 0x7f) {
      static const char kHex[] = "0123456789abcdef";
      out += {'\\', 'x', kHex[ch >> 4], kHex[ch & 15]};
    } else {
      out += char(ch);
    }
  }
  if (end < text.size()) out += "... (" + std::to_string(text.size()) + " bytes)";
  return out;
}

void fail(const std::string& message) { throw Error(message); }

void fail_internal(const char* file, int line, const char* condition, const std::string& context) {
  std::string message =
      "internal error at " + short_path(file) + ":" + std::to_string(line) + ": " + condition;
  if (!context.empty()) message += ": " + context;
  throw InternalError(message + " (a rootopt bug; please report it)");
}

void fail_call(const char* library, const char* call, const std::string& status,
               const std::string& context) {
  std::string message = context.empty() ? std::string() : context + ": ";
  message += std::string(library) + " error in " + function_name(call) + ": " + status;
  throw Error(message);
}

}  // namespace rootopt::detail
