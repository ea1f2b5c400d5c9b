#include "kernels/w8a8_matmul.h"

#include <omp.h>

#include <algorithm>
#include <cmath>
#include <limits>

#include "core/error.h"
#include "kernels/int8_gemm.h"

namespace lowbit {
namespace {

constexpr double kQmax = 127.0;   // restricted symmetric int8: codes −127 … 127

// affine_params' symmetric scale for [lo, hi] widened to contain 0: the smallest s with
// −127·s ≤ lo and hi ≤ 127·s, computed in double, at least FLT_MIN, then rounded to float.
float symmetric_scale(double lo, double hi) {
  lo = std::min(lo, 0.0);
  hi = std::max(hi, 0.0);
  const double s = std::max({hi / kQmax, lo / -kQmax, static_cast<double>(std::numeric_limits<float>::min())});
  const float f = static_cast<float>(s);
  return std::isfinite(f) ? f : std::numeric_limits<float>::max();
}

// quantize_offset (quant/linear/affine.h): x / s clamped to ±127, rounded half to even by
// the 1.5·2^23 trick; NaN goes to −127 (no undefined behaviour on hostile input).
void quantize_row(const float* x, int64_t n, float scale, int8_t* q) {
  constexpr float kRound = 12582912.0f;  // 1.5 · 2^23
  for (int64_t i = 0; i < n; ++i) {
    float v = x[i] / scale;
    v = v > -127.0f ? v : -127.0f;
    v = v < 127.0f ? v : 127.0f;
    q[i] = static_cast<int8_t>((v + kRound) - kRound);
  }
}

}  // namespace

void w8a8_quantize_rows_dynamic(const float* X, int64_t rows, int64_t cols, int8_t* q, float* scales) {
#pragma omp parallel for schedule(static) if (rows * cols > (1 << 16))
  for (int64_t t = 0; t < rows; ++t) {
    const float* x = X + t * cols;
    float m = 0;
    for (int64_t i = 0; i < cols; ++i) m = std::max(m, std::fabs(x[i]));
    scales[t] = symmetric_scale(-static_cast<double>(m), m);
    quantize_row(x, cols, scales[t], q + t * cols);
  }
}

void w8a8_quantize_rows_static(const float* X, int64_t rows, int64_t cols, float lo, float hi, int8_t* q, float* scale) {
  *scale = symmetric_scale(lo, hi);
  const float s = *scale;
#pragma omp parallel for schedule(static) if (rows * cols > (1 << 16))
  for (int64_t t = 0; t < rows; ++t) quantize_row(X + t * cols, cols, s, q + t * cols);
}

void w8a8_matmul(const QMatrix& W, const float* X, int64_t T, float* Y, std::vector<uint8_t>& scratch) {
  if (W.type != GgmlType::I8 || !W.row_scales)
    fail("w8a8_matmul: weight matrix of type {} has no per-row int8 scales", ggml_type_name(W.type));
  if (W.row_bytes != static_cast<uint64_t>(W.in)) fail("w8a8_matmul: I8 rows of {} bytes for {} columns", W.row_bytes, W.in);
  // Scratch: the activation scales (T floats) first, so they stay aligned, then the codes.
  const size_t scale_bytes = static_cast<size_t>(T) * sizeof(float);
  scratch.resize(scale_bytes + static_cast<size_t>(T * W.in));
  float* scales = reinterpret_cast<float*>(scratch.data());
  int8_t* codes = reinterpret_cast<int8_t*>(scratch.data() + scale_bytes);
  if (W.act_static) w8a8_quantize_rows_static(X, T, W.in, W.act_lo, W.act_hi, codes, scales);
  else w8a8_quantize_rows_dynamic(X, T, W.in, codes, scales);
  gemm_s8s8_f32(T, W.out, W.in, codes, scales, W.act_static ? 0 : 1, reinterpret_cast<const int8_t*>(W.data),
                W.row_scales, Y);
}

}  // namespace lowbit
