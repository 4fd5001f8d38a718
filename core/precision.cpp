#include "rootopt/precision.h"

#include "check.h"

namespace rootopt {

Precision parse_precision(const std::string& text) {
  if (text == "fp64") return Precision::fp64;
  if (text == "fp32") return Precision::fp32;
  if (text == "bf16") return Precision::bf16;
  if (text == "tf32") return Precision::tf32;
  ROOTOPT_FAIL("unknown precision '", text, "' (expected fp64, fp32, bf16 or tf32)");
}

std::string to_string(Precision precision) {
  switch (precision) {
    case Precision::fp64:
      return "fp64";
    case Precision::fp32:
      return "fp32";
    case Precision::bf16:
      return "bf16";
    case Precision::tf32:
      return "tf32";
  }
  ROOTOPT_ASSERT(false, "invalid Precision value ", static_cast<int>(precision));
}

}  // namespace rootopt
