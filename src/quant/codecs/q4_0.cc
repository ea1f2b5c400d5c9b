// Q4_0: 32 weights, one f16 scale, x = d * (q - 8). See blocks.h for the byte layout.
#include <cmath>

#include "core/half.h"
#include "quant/codecs/blocks.h"
#include "quant/codecs/codec.h"
#include "quant/codecs/scale_search.h"

namespace lowbit {
namespace {

// ggml's quantize_row_q4_0_ref: the element of largest magnitude maps to code 0 (-8), so the
// grid spends its asymmetric extra level on the side where the outlier is.
void quantize_q4_0_ref(const float* x, BlockQ4_0* y, int64_t nb) {
  for (int64_t i = 0; i < nb; ++i, x += kQK32) {
    float amax = 0.0f;
    float max = 0.0f;
    for (int j = 0; j < kQK32; ++j) {
      if (amax < std::fabs(x[j])) {
        amax = std::fabs(x[j]);
        max = x[j];
      }
    }
    const float d = max / -8;
    const float id = d != 0 ? 1.0f / d : 0.0f;
    y[i].d = f32_to_f16(d);
    for (int j = 0; j < kQK32 / 2; ++j) {
      const float x0 = x[j] * id;
      const float x1 = x[kQK32 / 2 + j] * id;
      // Truncation of a value in [0.5, 16.5]: round-half-up of x*id + 8.
      const int xi0 = trunc_code(x0 + 8.5f, 15);
      const int xi1 = trunc_code(x1 + 8.5f, 15);
      y[i].qs[j] = static_cast<uint8_t>(xi0 | (xi1 << 4));
    }
  }
}

// ggml's quantize_row_q4_0_impl: weighted least-squares scale search (make_qx_quants) with
// w = importance * sqrt(sigma^2 + x^2), sigma^2 the row's mean square.
void quantize_q4_0_weighted(const float* x, BlockQ4_0* y, int64_t n, const float* importance) {
  float sum_x2 = 0;
  for (int64_t j = 0; j < n; ++j) sum_x2 += x[j] * x[j];
  const float sigma2 = sum_x2 / static_cast<float>(n);
  float weight[kQK32];
  int8_t L[kQK32];
  for (int64_t ib = 0; ib < n / kQK32; ++ib) {
    const float* xb = x + kQK32 * ib;
    const float* qw = importance + kQK32 * ib;
    for (int j = 0; j < kQK32; ++j) weight[j] = qw[j] * std::sqrt(sigma2 + xb[j] * xb[j]);
    const float d = make_qx_quants(kQK32, 8, xb, L, 1, weight);
    y[ib].d = f32_to_f16(d);
    for (int j = 0; j < 16; ++j) y[ib].qs[j] = static_cast<uint8_t>(L[j] | (L[j + 16] << 4));
  }
}

}  // namespace

void quantize_row_q4_0(const float* x, void* y, int64_t n, const float* importance) {
  auto* b = static_cast<BlockQ4_0*>(y);
  if (importance) {
    quantize_q4_0_weighted(x, b, n, importance);
  } else {
    quantize_q4_0_ref(x, b, n / kQK32);
  }
}

void dequantize_row_q4_0(const void* vx, float* y, int64_t n) {
  const auto* x = static_cast<const BlockQ4_0*>(vx);
  for (int64_t i = 0; i < n / kQK32; ++i, y += kQK32) {
    const float d = f16_to_f32(x[i].d);
    for (int j = 0; j < kQK32 / 2; ++j) {
      y[j] = static_cast<float>((x[i].qs[j] & 0x0F) - 8) * d;
      y[j + kQK32 / 2] = static_cast<float>((x[i].qs[j] >> 4) - 8) * d;
    }
  }
}

}  // namespace lowbit
