#include "check.h"

namespace rootopt::detail {

void fail(const char* file, int line, const std::string& what, const std::string& context) {
  std::string message = std::string(file) + ":" + std::to_string(line) + ": " + what;
  if (!context.empty()) message += ": " + context;
  throw Error(message);
}

}  // namespace rootopt::detail
