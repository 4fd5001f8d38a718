// Internal: the checks every coefficient-table entry passes, shared by CoefficientTable::set
// (in memory) and the file reader (coefficient_table_file.cpp), so both accept the same tables.
#pragma once

#include <string>

#include "rootopt/coefficient_table.h"

namespace rootopt::detail {

// "table:1024x4096", the schedule name of a table entry.
std::string table_schedule_name(Shape shape);
// Dimensions in [1, kMaxDimension]; throws naming `where` and the shape.
void check_table_shape(Shape shape, const std::string& where);
// UTF-8 without NUL, at most kMaxTableStringBytes, non-empty unless `may_be_empty`: `what`
// (e.g. "metric name") names it in the error.
void check_table_text(const std::string& text, const std::string& what, const std::string& where,
                      bool may_be_empty = false);
// Recipe::validate, then the composed map against kMaxTableMapValue on [0, 1] (refused beyond,
// or when not finite). Returns the extremes for CoefficientTable::warning().
TableMapExtremes check_table_recipe(const Recipe& recipe, const std::string& where);

}  // namespace rootopt::detail
