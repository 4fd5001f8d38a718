// rootopt::Error: the one exception type the library throws. The library never calls exit();
// every failure carries where it happened (file:line), the call that failed and context.
#pragma once

#include <stdexcept>
#include <string>

namespace rootopt {

class Error : public std::runtime_error {
 public:
  explicit Error(const std::string& message) : std::runtime_error(message) {}
};

}  // namespace rootopt
