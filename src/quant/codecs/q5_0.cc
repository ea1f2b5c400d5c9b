// Q5_0: 32 weights, one f16 scale, x = d * (q - 16), the fifth bits gathered in qh.
// See blocks.h for the byte layout.
#include <cmath>
#include <cstring>

#include "core/half.h"
#include "quant/codecs/blocks.h"
#include "quant/codecs/codec.h"
#include "quant/codecs/scale_search.h"

namespace lowbit {
namespace {

// Packs 32 five-bit codes: low nibbles as Q4_0, bit 4 of code j into bit j of qh.
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

// ggml's quantize_row_q5_0_ref: the element of largest magnitude maps to code 0 (-16).
void quantize_q5_0_ref(const float* x, BlockQ5_0* y, int64_t nb) {
  uint8_t L[kQK32];
  for (int64_t i = 0; i < nb; ++i, x += kQK32) {
    float amax = 0.0f;
    float max = 0.0f;
    for (int j = 0; j < kQK32; ++j) {
      if (amax < std::fabs(x[j])) {
        amax = std::fabs(x[j]);
        max = x[j];
      }
    }
    const float d = max / -16;
    const float id = d != 0 ? 1.0f / d : 0.0f;
    y[i].d = f32_to_f16(d);
    for (int j = 0; j < kQK32; ++j)
      L[j] = static_cast<uint8_t>(trunc_code(x[j] * id + 16.5f, 31));
    pack_q5(L, y[i].qs, y[i].qh);
  }
}

// ggml's quantize_row_q5_0_impl (make_qx_quants with imatrix weights).
void quantize_q5_0_weighted(const float* x, BlockQ5_0* y, int64_t n, const float* importance) {
  float sum_x2 = 0;
  for (int64_t j = 0; j < n; ++j) sum_x2 += x[j] * x[j];
  const float sigma2 = sum_x2 / static_cast<float>(n);
  float weight[kQK32];
  int8_t L[kQK32];
  for (int64_t ib = 0; ib < n / kQK32; ++ib) {
    const float* xb = x + kQK32 * ib;
    const float* qw = importance + kQK32 * ib;
    for (int j = 0; j < kQK32; ++j) weight[j] = qw[j] * std::sqrt(sigma2 + xb[j] * xb[j]);
    const float d = make_qx_quants(kQK32, 16, xb, L, 1, weight);
    y[ib].d = f32_to_f16(d);
    pack_q5(reinterpret_cast<const uint8_t*>(L), y[ib].qs, y[ib].qh);
  }
}

}  // namespace

void quantize_row_q5_0(const float* x, void* y, int64_t n, const float* importance) {
  auto* b = static_cast<BlockQ5_0*>(y);
  if (importance) {
    quantize_q5_0_weighted(x, b, n, importance);
  } else {
    quantize_q5_0_ref(x, b, n / kQK32);
  }
}

void dequantize_row_q5_0(const void* vx, float* y, int64_t n) {
  const auto* x = static_cast<const BlockQ5_0*>(vx);
  for (int64_t i = 0; i < n / kQK32; ++i, y += kQK32) {
    const float d = f16_to_f32(x[i].d);
    uint32_t qh;
    std::memcpy(&qh, x[i].qh, sizeof(qh));
    for (int j = 0; j < kQK32 / 2; ++j) {
      const int xh0 = static_cast<int>(((qh >> j) << 4) & 0x10);
      const int xh1 = static_cast<int>((qh >> (j + 12)) & 0x10);
      y[j] = static_cast<float>(((x[i].qs[j] & 0x0F) | xh0) - 16) * d;
      y[j + kQK32 / 2] = static_cast<float>(((x[i].qs[j] >> 4) | xh1) - 16) * d;
    }
  }
}

}  // namespace lowbit
