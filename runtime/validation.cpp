#include "validation.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <limits>
#include <sstream>
#include <string>

#include "check.h"

namespace rootopt::detail {
namespace {

const char* name_of(DType dtype) {
  switch (dtype) {
    case DType::fp32:
      return "fp32";
    case DType::bf16:
      return "bf16";
  }
  return "invalid";
}

// The shortest decimal that reads back as exactly `value`, so a message never shows a value the
// check did not see: 0.99999994f as "0.99999994", not as "1", and a float that underflowed to 0
// as "0".
std::string exact(float value) {
  for (int digits = 1; digits < std::numeric_limits<float>::max_digits10; ++digits) {
    std::ostringstream out;
    out.precision(digits);
    out << value;
    if (std::strtof(out.str().c_str(), nullptr) == value) return out.str();
  }
  std::ostringstream out;
  out.precision(std::numeric_limits<float>::max_digits10);
  out << value;
  return out.str();
}

}  // namespace

void validate_hyperparams(const Hyperparams& h) {
  ROOTOPT_CHECK(std::isfinite(h.lr) && h.lr >= 0, "hyperparameter lr = ", exact(h.lr),
                " must be finite and >= 0");
  ROOTOPT_CHECK(std::isfinite(h.momentum) && h.momentum >= 0 && h.momentum < 1,
                "hyperparameter momentum = ", exact(h.momentum), " must lie in [0, 1)");
  ROOTOPT_CHECK(std::isfinite(h.weight_decay) && h.weight_decay >= 0,
                "hyperparameter weight_decay = ", exact(h.weight_decay),
                " must be finite and >= 0");
  ROOTOPT_CHECK(double(h.lr) * double(h.weight_decay) <= 1.0,
                "lr * weight_decay = ", double(h.lr) * double(h.weight_decay),
                " must be <= 1 (the decay factor 1 - lr wd would flip the weights' sign)");
  switch (h.threshold) {
    case ThresholdMode::quantile:
      ROOTOPT_CHECK(std::isfinite(h.threshold_quantile) && h.threshold_quantile > 0 &&
                        h.threshold_quantile <= 1,
                    "hyperparameter threshold_quantile = ", exact(h.threshold_quantile),
                    " must lie in (0, 1]");
      break;
    case ThresholdMode::fixed:
      ROOTOPT_CHECK(std::isfinite(h.threshold_value) && h.threshold_value > 0,
                    "hyperparameter threshold_value = ", exact(h.threshold_value),
                    " must be finite and > 0 in fixed threshold mode");
      break;
    case ThresholdMode::off:
      break;
    default:
      ROOTOPT_FAIL("hyperparameter threshold has invalid value ", static_cast<int>(h.threshold));
  }
  ROOTOPT_CHECK(std::find(std::begin(kRuntimePrecisions), std::end(kRuntimePrecisions),
                          h.precision) != std::end(kRuntimePrecisions),
                "hyperparameter precision must be bf16 or fp32, got value ",
                static_cast<int>(h.precision));
  ROOTOPT_CHECK(
      h.scale == ScaleMode::rms || h.scale == ScaleMode::spectral || h.scale == ScaleMode::none,
      "hyperparameter scale has invalid value ", static_cast<int>(h.scale));
}

void validate_param_spec(const ParamSpec& spec, const char* what) {
  const std::string where = std::string(what) + " '" + spec.name + "'";
  ROOTOPT_CHECK(!spec.name.empty(), what, ": parameter name is empty");
  ROOTOPT_CHECK(spec.batch >= 1 && spec.rows >= 1 && spec.cols >= 1, where,
                ": sizes must be positive, got batch ", spec.batch, ", ", spec.rows, "x",
                spec.cols);
  // batch * rows * cols elements (and their bytes) must fit in int64.
  constexpr int64_t kMaxElements = int64_t(1) << 40;
  ROOTOPT_CHECK(
      spec.rows <= kMaxElements / spec.cols && spec.batch <= kMaxElements / (spec.rows * spec.cols),
      where, ": ", spec.batch, " x ", spec.rows, "x", spec.cols, " elements is more than 2^40");
  ROOTOPT_CHECK(spec.dtype == DType::fp32 || spec.dtype == DType::bf16, where,
                ": dtype has invalid value ", static_cast<int>(spec.dtype));
  ROOTOPT_CHECK(spec.param != nullptr, where, ": param pointer is null");
  ROOTOPT_CHECK(spec.grad != nullptr, where, ": grad pointer is null");
}

void validate_rebind(const ParamSpec& registered, const ParamSpec& spec) {
  const std::string where = "rebind '" + registered.name + "'";
  ROOTOPT_CHECK(spec.name.empty() || spec.name == registered.name, where, ": name '", spec.name,
                "' differs from the registered name");
  ROOTOPT_CHECK(spec.batch == registered.batch && spec.rows == registered.rows &&
                    spec.cols == registered.cols,
                where, ": shape ", spec.batch, " x ", spec.rows, "x", spec.cols,
                " differs from the registered ", registered.batch, " x ", registered.rows, "x",
                registered.cols);
  ROOTOPT_CHECK(spec.dtype == registered.dtype, where, ": dtype ", name_of(spec.dtype),
                " differs from the registered ", name_of(registered.dtype));
  ROOTOPT_CHECK(spec.param != nullptr, where, ": param pointer is null");
  ROOTOPT_CHECK(spec.grad != nullptr, where, ": grad pointer is null");
}

}  // namespace rootopt::detail
