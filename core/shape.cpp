#include "rootopt/shape.h"

#include <algorithm>
#include <cctype>
#include <cmath>

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
  ROOTOPT_CHECK(value > 0 && value <= kMaxDimension, "shape '", text, "': ", what, " = ", value,
                " is outside [1, 2^24]");
  return value;
}

}  // namespace

Shape parse_shape(const std::string& text) {
  const size_t sep = text.find_first_of("xX*");
  ROOTOPT_CHECK(sep != std::string::npos, "shape '", text, "': expected form MxN, e.g. 1024x4096");
  return {parse_dimension(text.substr(0, sep), text, "rows"),
          parse_dimension(text.substr(sep + 1), text, "cols")};
}

std::vector<Shape> parse_shape_list(const std::string& text) {
  std::vector<Shape> shapes;
  size_t begin = 0;
  for (;;) {
    const size_t end = text.find(',', begin);
    const std::string item = text.substr(begin, end == std::string::npos ? end : end - begin);
    ROOTOPT_CHECK(!item.empty(), "shape list '", text, "': empty entry (form MxN,MxN,...)");
    shapes.push_back(parse_shape(item));
    if (end == std::string::npos) return shapes;
    begin = end + 1;
  }
}

std::string to_string(const Shape& shape) {
  return std::to_string(shape.rows) + "x" + std::to_string(shape.cols);
}

Shape proxy_shape(Shape shape, int64_t max_rank) {
  ROOTOPT_CHECK(max_rank >= 2 && max_rank <= kMaxProxyRank, "proxy rank must be in 2..",
                kMaxProxyRank, ", got ", max_rank);
  const Shape key = shape.canonical();
  if (key.rows <= max_rank) return key;
  const double aspect = double(key.cols) / double(key.rows);
  return {max_rank, std::max<int64_t>(max_rank, std::llround(double(max_rank) * aspect))};
}

}  // namespace rootopt
