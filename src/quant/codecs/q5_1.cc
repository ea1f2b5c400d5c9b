// Q5_1: 32 weights, f16 scale and min, x = d * q + m, q in 0..31 (fifth bits in qh).
// See blocks.h for the byte layout.
#include <cfloat>
#include <cmath>
#include <cstring>

#include "core/half.h"
#include "quant/codecs/blocks.h"
#include "quant/codecs/codec.h"
#include "quant/codecs/scale_search.h"

namespace lowbit {
namespace {

void pack_q5(const uint8_t* L, uint8_t* qs, uint8_t* qh_bytes) {
  uint32_t qh = 0;
  for (int j = 0; j < 16; ++j) {
    const uint8_t xi0 = L[j];
    const uint8_t xi1 = L[j + 16];
    qs[j] = static_cast<uint8_t>((xi0 & 0x0F) | ((xi1 & 0x0F) << 4));
    qh |= ((xi0 & 0x10u) >> 4) << j;
    qh |= ((xi1 & 0x10u) >> 4) << (j + 16);
  }
  std::memcpy(qh_bytes, &qh, 4);
}

// ggml's quantize_row_q5_1_ref: min..max in 31 steps, round half up.
void quantize_q5_1_ref(const float* x, BlockQ5_1* y, int64_t nb) {
  uint8_t L[kQK32];
  for (int64_t i = 0; i < nb; ++i, x += kQK32) {
    float min = FLT_MAX;
    float max = -FLT_MAX;
    for (int j = 0; j < kQK32; ++j) {
      if (x[j] < min) min = x[j];
      if (x[j] > max) max = x[j];
    }
    const float d = (max - min) / 31;
    const float id = d != 0 ? 1.0f / d : 0.0f;
    y[i].d = f32_to_f16(d);
    y[i].m = f32_to_f16(min);
    // (x - min) * id lies in [0, 31] up to rounding: ggml does not clamp, trunc_code only
    // guards non-finite input.
    for (int j = 0; j < kQK32; ++j) L[j] = static_cast<uint8_t>(trunc_code((x[j] - min) * id + 0.5f, 31));
    pack_q5(L, y[i].qs, y[i].qh);
  }
}

// ggml's quantize_row_q5_1_impl (make_qkx3_quants with imatrix weights).
void quantize_q5_1_weighted(const float* x, BlockQ5_1* y, int64_t n, const float* importance) {
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
    const float d = make_qkx3_quants(kQK32, 31, xb, weight, L, &min, Laux, -0.9f, 0.05f, 36, false);
    y[ib].d = f32_to_f16(d);
    y[ib].m = f32_to_f16(-min);
    pack_q5(L, y[ib].qs, y[ib].qh);
  }
}

}  // namespace

void quantize_row_q5_1(const float* x, void* y, int64_t n, const float* importance) {
  auto* b = static_cast<BlockQ5_1*>(y);
  if (importance) {
    quantize_q5_1_weighted(x, b, n, importance);
  } else {
    quantize_q5_1_ref(x, b, n / kQK32);
  }
}

void dequantize_row_q5_1(const void* vx, float* y, int64_t n) {
  const auto* x = static_cast<const BlockQ5_1*>(vx);
  for (int64_t i = 0; i < n / kQK32; ++i, y += kQK32) {
    const float d = f16_to_f32(x[i].d);
    const float m = f16_to_f32(x[i].m);
    uint32_t qh;
    std::memcpy(&qh, x[i].qh, sizeof(qh));
    for (int j = 0; j < kQK32 / 2; ++j) {
      const int xh0 = static_cast<int>(((qh >> j) << 4) & 0x10);
      const int xh1 = static_cast<int>((qh >> (j + 12)) & 0x10);
      y[j] = static_cast<float>((x[i].qs[j] & 0x0F) | xh0) * d + m;
      y[j + kQK32 / 2] = static_cast<float>((x[i].qs[j] >> 4) | xh1) * d + m;
    }
  }
}

}  // namespace lowbit
