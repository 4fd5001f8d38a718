// Internal: small text helpers shared by the spec parsers (families, mixtures, captured files).
#pragma once

#include <string>
#include <vector>

namespace rootopt::detail {

// "a,b,,c" -> {"a", "b", "", "c"}; an empty text gives one empty part.
inline std::vector<std::string> split(const std::string& text, char separator) {
  std::vector<std::string> parts;
  size_t start = 0;
  for (size_t end; (end = text.find(separator, start)) != std::string::npos; start = end + 1)
    parts.push_back(text.substr(start, end - start));
  parts.push_back(text.substr(start));
  return parts;
}

}  // namespace rootopt::detail
