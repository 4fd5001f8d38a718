#include "rootopt/shape.h"

#include <cctype>

#include "check.h"

namespace rootopt {
namespace {

// Parses one positive decimal dimension; `what` names it in the error.
int64_t parse_dimension(const std::string& digits, const std::string& text, const char* what) {
  ROOTOPT_CHECK(!digits.empty() && digits.size() <= 9, "shape '", text, "': ", what,
                " must be a positive integer (form MxN, e.g. 1024x4096)");
  for (char ch : digits)
    ROOTOPT_CHECK(std::isdigit(static_cast<unsigned char>(ch)), "shape '", text, "': ", what,
                  " must be a positive integer (form MxN, e.g. 1024x4096)");
  const int64_t value = std::stoll(digits);
  ROOTOPT_CHECK(value > 0 && value <= kMaxShapeDimension, "shape '", text, "': ", what, " = ",
                value, " is outside [1, 2^24]");
  return value;
}

}  // namespace

Shape parse_shape(const std::string& text) {
  const size_t sep = text.find_first_of("xX*");
  ROOTOPT_CHECK(sep != std::string::npos, "shape '", text, "': expected form MxN, e.g. 1024x4096");
  return {parse_dimension(text.substr(0, sep), text, "rows"),
          parse_dimension(text.substr(sep + 1), text, "cols")};
}

std::string to_string(const Shape& shape) {
  return std::to_string(shape.rows) + "x" + std::to_string(shape.cols);
}

}  // namespace rootopt
