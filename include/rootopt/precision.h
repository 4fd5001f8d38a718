// Arithmetic precision of a Newton-Schulz run.
#pragma once

#include <string>

namespace rootopt {

// fp64: reference; fp32: fp32 storage and arithmetic; bf16: as tensor cores do it: operands
// rounded to bf16, products accumulated in fp32, every GEMM output rounded to bf16; tf32: as
// tensor cores run fp32 GEMMs in TF32 mode: operands rounded to 10 mantissa bits, products
// accumulated and stored in fp32 (a recipe's tail steps, see recipe.h).
enum class Precision { fp64, fp32, bf16, tf32 };

Precision parse_precision(const std::string& text);  // "fp64" | "fp32" | "bf16" | "tf32"
std::string to_string(Precision precision);

}  // namespace rootopt
