// Arithmetic precision of a Newton-Schulz run.
#pragma once

#include <string>

namespace rootopt {

// fp64: reference; fp32: fp32 storage and arithmetic; bf16: as tensor cores do it: operands
// rounded to bf16, products accumulated in fp32, every GEMM output rounded to bf16.
enum class Precision { fp64, fp32, bf16 };

Precision parse_precision(const std::string& text);  // "fp64" | "fp32" | "bf16"
std::string to_string(Precision precision);

}  // namespace rootopt
