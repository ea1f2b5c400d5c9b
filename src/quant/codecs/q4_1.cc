// Q4_1: 32 weights, f16 scale and min, x = d * q + m. See blocks.h for the byte layout.
#include <cfloat>
#include <cmath>

#include "core/half.h"
#include "quant/codecs/blocks.h"
#include "quant/codecs/codec.h"
#include "quant/codecs/scale_search.h"

namespace lowbit {
namespace {

// ggml's quantize_row_q4_1_ref: min..max split into 15 steps, round half up.
void quantize_q4_1_ref(const float* x, BlockQ4_1* y, int64_t nb) {
  for (int64_t i = 0; i < nb; ++i, x += kQK32) {
    float min = FLT_MAX;
    float max = -FLT_MAX;
    for (int j = 0; j < kQK32; ++j) {
      if (x[j] < min) min = x[j];
      if (x[j] > max) max = x[j];
    }
    const float d = (max - min) / 15;
    const float id = d != 0 ? 1.0f / d : 0.0f;
    y[i].d = f32_to_f16(d);
    y[i].m = f32_to_f16(min);
    for (int j = 0; j < kQK32 / 2; ++j) {
      const float x0 = (x[j] - min) * id;
      const float x1 = (x[kQK32 / 2 + j] - min) * id;
      const int xi0 = trunc_code(x0 + 0.5f, 15);
      const int xi1 = trunc_code(x1 + 0.5f, 15);
      y[i].qs[j] = static_cast<uint8_t>(xi0 | (xi1 << 4));
    }
  }
}

// ggml's quantize_row_q4_1_impl: affine least-squares search (make_qkx3_quants).
void quantize_q4_1_weighted(const float* x, BlockQ4_1* y, int64_t n, const float* importance) {
  float sum_x2 = 0;
  for (int64_t j = 0; j < n; ++j) sum_x2 += x[j] * x[j];
  const float sigma2 = sum_x2 / static_cast<float>(n);
  float weight[kQK32];
  uint8_t L[kQK32], Laux[kQK32];
  for (int64_t ib = 0; ib < n / kQK32; ++ib) {
    const float* xb = x + kQK32 * ib;
    const float* qw = importance + kQK32 * ib;
    for (int j = 0; j < kQK32; ++j) weight[j] = qw[j] * std::sqrt(sigma2 + xb[j] * xb[j]);
    float min = 0;
    const float d = make_qkx3_quants(kQK32, 15, xb, weight, L, &min, Laux, -0.9f, 0.05f, 36, false);
    y[ib].d = f32_to_f16(d);
    y[ib].m = f32_to_f16(-min);
    for (int j = 0; j < 16; ++j) y[ib].qs[j] = static_cast<uint8_t>(L[j] | (L[j + 16] << 4));
  }
}

}  // namespace

void quantize_row_q4_1(const float* x, void* y, int64_t n, const float* importance) {
  auto* b = static_cast<BlockQ4_1*>(y);
  if (importance) {
    quantize_q4_1_weighted(x, b, n, importance);
  } else {
    quantize_q4_1_ref(x, b, n / kQK32);
  }
}

void dequantize_row_q4_1(const void* vx, float* y, int64_t n) {
  const auto* x = static_cast<const BlockQ4_1*>(vx);
  for (int64_t i = 0; i < n / kQK32; ++i, y += kQK32) {
    const float d = f16_to_f32(x[i].d);
    const float m = f16_to_f32(x[i].m);
    for (int j = 0; j < kQK32 / 2; ++j) {
      y[j] = static_cast<float>(x[i].qs[j] & 0x0F) * d + m;
      y[j + kQK32 / 2] = static_cast<float>(x[i].qs[j] >> 4) * d + m;
    }
  }
}

}  // namespace lowbit
