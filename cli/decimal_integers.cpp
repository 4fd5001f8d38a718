#include "decimal_integers.h"

#include <charconv>
#include <cstdint>
#include <limits>
#include <string>

namespace rootopt::cli {
namespace {

// "" when `text` is a decimal integer that fits T, else why not. Rewrites `text` to the value's
// canonical form ("010" -> "10"), which CLI11's conversion then reads as decimal.
template <typename T>
std::string check_decimal(std::string& text) {
  const bool is_signed = std::is_signed_v<T>;
  const size_t digits_from = is_signed && !text.empty() && text[0] == '-' ? 1 : 0;
  bool decimal = text.size() > digits_from;
  for (size_t i = digits_from; i < text.size(); ++i)
    decimal = decimal && text[i] >= '0' && text[i] <= '9';
  if (!decimal)
    return "'" + text + "' is not a " + (is_signed ? "" : "non-negative ") + "decimal integer";
  T value{};
  const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (error == std::errc::result_out_of_range || end != text.data() + text.size())
    return "'" + text + "' is outside [" + std::to_string(std::numeric_limits<T>::min()) + ", " +
           std::to_string(std::numeric_limits<T>::max()) + "]";
  text = std::to_string(value);
  return "";
}

}  // namespace

void require_decimal_integers(CLI::App& app) {
  for (CLI::Option* option : app.get_options()) {
    const std::string type = option->get_type_name();
    if (type == "INT")
      option->transform(CLI::Validator(check_decimal<int64_t>, "", "decimal integer"));
    else if (type == "UINT")
      option->transform(CLI::Validator(check_decimal<uint64_t>, "", "decimal integer"));
  }
  for (CLI::App* sub : app.get_subcommands([](CLI::App*) { return true; }))
    require_decimal_integers(*sub);
}

}  // namespace rootopt::cli
