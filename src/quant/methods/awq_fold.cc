#include "quant/methods/awq_fold.h"

#include <cmath>

#include "core/error.h"

namespace lowbit {

void check_channel_scales(std::span<const float> s, int64_t in) {
  if (static_cast<int64_t>(s.size()) != in) fail("channel scales: {} scales for {} input channels", s.size(), in);
  for (size_t j = 0; j < s.size(); ++j)
    if (!(std::isfinite(s[j]) && s[j] > 0.0f)) fail("channel scales: s[{}] = {} is not a finite positive number", j, s[j]);
}

void scale_columns(float* W, int64_t rows, int64_t cols, std::span<const float> s) {
  check_channel_scales(s, cols);
  if (rows < 0) fail("scale_columns: negative row count {}", rows);
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t j = 0; j < cols; ++j) W[r * cols + j] *= s[static_cast<size_t>(j)];
}

void fold_into_norm(std::span<float> norm_w, std::span<const float> s) {
  check_channel_scales(s, static_cast<int64_t>(norm_w.size()));
  for (size_t j = 0; j < norm_w.size(); ++j) norm_w[j] /= s[j];
}

void fold_into_linear_rows(float* W_prev, int64_t rows, int64_t cols, std::span<const float> s, float* bias) {
  check_channel_scales(s, rows);
  if (cols < 0) fail("fold_into_linear_rows: negative column count {}", cols);
  for (int64_t r = 0; r < rows; ++r) {
    const float d = s[static_cast<size_t>(r)];
    for (int64_t c = 0; c < cols; ++c) W_prev[r * cols + c] /= d;
    if (bias) bias[r] /= d;
  }
}

}  // namespace lowbit
