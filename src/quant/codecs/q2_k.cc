// Q2_K: 256 weights in 16 sub-blocks of 16; x = d*sc*q - dmin*m with 4-bit (sc, m) per
// sub-block and q in 0..3. See blocks.h for the byte layout.
#include <algorithm>
#include <cmath>
#include <cstring>

#include "core/half.h"
#include "quant/codecs/blocks.h"
#include "quant/codecs/codec.h"
#include "quant/codecs/scale_search.h"

namespace lowbit {
namespace {

constexpr int kSub = 16;              // elements per sub-block
constexpr int kNSub = kQKK / kSub;    // sub-blocks per super-block

// Codes of the 256 elements from the stored scales: each sub-block's (d*sc, dmin*m) fixed,
// q = clamp(round((x + dmin*m) / (d*sc)), 0, 3). Sub-blocks with a zero scale keep L.
void requantize(const float* x, const BlockQ2K& b, uint8_t* L) {
  const float d_all = f16_to_f32(b.d);
  const float m_all = f16_to_f32(b.dmin);
  for (int j = 0; j < kNSub; ++j) {
    const float d = d_all * static_cast<float>(b.scales[j] & 0xF);
    if (d == 0) continue;
    const float dm = m_all * static_cast<float>(b.scales[j] >> 4);
    for (int ii = 0; ii < kSub; ++ii) {
      const int l = nearest_int((x[kSub * j + ii] + dm) / d);
      L[kSub * j + ii] = static_cast<uint8_t>(std::max(0, std::min(3, l)));
    }
  }
}

// Four 2-bit codes per byte: in each half of 128, byte l holds elements l, l+32, l+64, l+96.
void pack_2bit(const uint8_t* L, uint8_t* qs) {
  for (int j = 0; j < kQKK; j += 128)
    for (int l = 0; l < 32; ++l)
      qs[j / 4 + l] = static_cast<uint8_t>(L[j + l] | (L[j + l + 32] << 2) | (L[j + l + 64] << 4) |
                                           (L[j + l + 96] << 6));
}

// ggml's quantize_row_q2_K_ref: per sub-block an affine fit minimising the |x|-weighted
// absolute error (make_qkx2_quants), then sub-scales and mins quantized to 4 bits against
// the largest of each.
void quantize_q2_k_ref(const float* x, BlockQ2K* y, int64_t nb) {
  uint8_t L[kQKK];
  uint8_t Laux[kSub];
  float weights[kSub];
  float mins[kNSub];
  float scales[kNSub];
  const float q4scale = 15.f;
  for (int64_t i = 0; i < nb; ++i, x += kQKK) {
    float max_scale = 0;  // the min is subtracted, so scales are never negative
    float max_min = 0;
    for (int j = 0; j < kNSub; ++j) {
      for (int l = 0; l < kSub; ++l) weights[l] = std::fabs(x[kSub * j + l]);
      scales[j] = make_qkx2_quants(kSub, 3, x + kSub * j, weights, L + kSub * j, &mins[j], Laux,
                                   -0.5f, 0.1f, 15, true);
      max_scale = std::max(max_scale, scales[j]);
      max_min = std::max(max_min, mins[j]);
    }
    if (max_scale > 0) {
      const float iscale = q4scale / max_scale;
      for (int j = 0; j < kNSub; ++j) y[i].scales[j] = static_cast<uint8_t>(nearest_int(iscale * scales[j]));
      y[i].d = f32_to_f16(max_scale / q4scale);
    } else {
      std::memset(y[i].scales, 0, kNSub);
      y[i].d = f32_to_f16(0.f);
    }
    if (max_min > 0) {
      const float iscale = q4scale / max_min;
      for (int j = 0; j < kNSub; ++j)
        y[i].scales[j] |= static_cast<uint8_t>(nearest_int(iscale * mins[j]) << 4);
      y[i].dmin = f32_to_f16(max_min / q4scale);
    } else {
      y[i].dmin = f32_to_f16(0.f);
    }
    requantize(x, y[i], L);
    pack_2bit(L, y[i].qs);
  }
}

// ggml's quantize_row_q2_K_impl: squared error weighted by importance * sqrt(sigma^2 + x^2),
// make_qkx3_quants per sub-block, then the sub-scales and mins themselves fitted with
// make_qp_quants weighted by each sub-block's total weight.
void quantize_q2_k_weighted(const float* x, BlockQ2K* y, int64_t nb, const float* importance) {
  uint8_t L[kQKK];
  uint8_t Laux[kSub];
  float mins[kNSub];
  float scales[kNSub];
  float sw[kNSub];
  float weight[kSub];
  uint8_t Ls[kNSub], Lm[kNSub];
  for (int64_t i = 0; i < nb; ++i, x += kQKK) {
    std::memset(sw, 0, sizeof(sw));
    float sumx2 = 0;
    for (int j = 0; j < kQKK; ++j) sumx2 += x[j] * x[j];
    const float sigma2 = sumx2 / kQKK;
    for (int j = 0; j < kNSub; ++j) {
      const float* qw = importance + kQKK * i + kSub * j;
      for (int l = 0; l < kSub; ++l) weight[l] = qw[l] * std::sqrt(sigma2 + x[kSub * j + l] * x[kSub * j + l]);
      for (int l = 0; l < kSub; ++l) sw[j] += weight[l];
      scales[j] = make_qkx3_quants(kSub, 3, x + kSub * j, weight, L + kSub * j, &mins[j], Laux,
                                   -0.9f, 0.05f, 36, false);
    }
    const float dm = make_qp_quants(kNSub, 15, scales, Ls, sw);
    const float mm = make_qp_quants(kNSub, 15, mins, Lm, sw);
    y[i].d = f32_to_f16(dm);
    y[i].dmin = f32_to_f16(mm);
    for (int j = 0; j < kNSub; ++j) y[i].scales[j] = static_cast<uint8_t>(Ls[j] | (Lm[j] << 4));
    requantize(x, y[i], L);
    pack_2bit(L, y[i].qs);
  }
}

}  // namespace

void quantize_row_q2_k(const float* x, void* y, int64_t n, const float* importance) {
  auto* b = static_cast<BlockQ2K*>(y);
  if (importance) {
    quantize_q2_k_weighted(x, b, n / kQKK, importance);
  } else {
    quantize_q2_k_ref(x, b, n / kQKK);
  }
}

void dequantize_row_q2_k(const void* vx, float* y, int64_t n) {
  const auto* x = static_cast<const BlockQ2K*>(vx);
  for (int64_t i = 0; i < n / kQKK; ++i) {
    const float d = f16_to_f32(x[i].d);
    const float min = f16_to_f32(x[i].dmin);
    const uint8_t* q = x[i].qs;
    int is = 0;
    for (int half = 0; half < 2; ++half, q += 32) {
      for (int shift = 0; shift < 8; shift += 2) {
        for (int k = 0; k < 2; ++k) {  // two sub-blocks of 16 share each 2-bit plane
          const uint8_t sc = x[i].scales[is++];
          const float dl = d * static_cast<float>(sc & 0xF);
          const float ml = min * static_cast<float>(sc >> 4);
          for (int l = 0; l < 16; ++l)
            *y++ = dl * static_cast<float>((q[l + 16 * k] >> shift) & 3) - ml;
        }
      }
    }
  }
}

}  // namespace lowbit
