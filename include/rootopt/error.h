// rootopt::Error: the exception type the library throws. The library never calls exit(). A
// failure caused by input says what is wrong in the user's terms (file, field, shape,
// parameter); InternalError, an Error too, is a broken invariant: a rootopt bug, with file:line.
#pragma once

#include <stdexcept>
#include <string>

namespace rootopt {

class Error : public std::runtime_error {
 public:
  explicit Error(const std::string& message) : std::runtime_error(message) {}
};

// Thrown by ROOTOPT_ASSERT (core/check.h) only: never by bad input, so tests and fuzz targets can
// tell a bug from a rejection by type rather than by message text (which may echo user input).
class InternalError : public Error {
 public:
  using Error::Error;
};

}  // namespace rootopt
