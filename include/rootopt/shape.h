// Shape: the (rows, cols) of a weight matrix. Tables key schedules by the canonical shape
// (min, max), because Newton-Schulz on a tall matrix runs on its transpose (same singular values).
#pragma once

#include <algorithm>
#include <cstdint>
#include <string>
#include <vector>

namespace rootopt {

// Largest matrix dimension rootopt accepts anywhere (shapes, model configs, tables, user
// matrices): 2^24 is far beyond any weight matrix, and keeps products of two dimensions in int64.
inline constexpr int64_t kMaxDimension = int64_t{1} << 24;

struct Shape {
  int64_t rows = 0;
  int64_t cols = 0;

  int64_t rank() const { return std::min(rows, cols); }  // number of singular values
  Shape canonical() const { return {std::min(rows, cols), std::max(rows, cols)}; }
  bool operator==(const Shape& o) const { return rows == o.rows && cols == o.cols; }
  bool operator!=(const Shape& o) const { return !(*this == o); }
  bool operator<(const Shape& o) const { return rows != o.rows ? rows < o.rows : cols < o.cols; }
};

// "1024x4096" (also accepts 'X' and '*'); throws rootopt::Error on malformed, zero or negative
// dimensions, or dimensions above 2^24 (absurd for a weight matrix).
Shape parse_shape(const std::string& text);
// "1024x4096,4096x4096": a comma-separated list of parse_shape items (the CLI's --shapes); throws
// rootopt::Error on an empty list or an empty item.
std::vector<Shape> parse_shape_list(const std::string& text);
std::string to_string(const Shape& shape);  // "1024x4096"

// The shape the matrix-level checks (audit, tuner validation, eval) run on instead of `shape`,
// so that their SVDs stay affordable: the canonical shape itself when its rank is at most
// `max_rank`, else max_rank x round(cols * max_rank / rows), the same aspect ratio. Throws
// rootopt::Error unless max_rank is in [2, kMaxProxyRank].
Shape proxy_shape(Shape shape, int64_t max_rank);
// The largest proxy rank the CLI accepts (--proxy-rank): an fp64 SVD of a 4096 x 4096 proxy is
// already seconds per matrix.
inline constexpr int64_t kMaxProxyRank = 4096;

}  // namespace rootopt
