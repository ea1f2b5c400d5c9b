// Q5_K: Q4_K with a fifth bit per code; x = d*sc*q - dmin*m, q in 0..31. See blocks.h.
#include <algorithm>
#include <cmath>
#include <cstring>

#include "core/half.h"
#include "quant/codecs/blocks.h"
#include "quant/codecs/codec.h"
#include "quant/codecs/scale_search.h"

namespace lowbit {
namespace {

constexpr int kSub = 32;
constexpr int kNSub = kQKK / kSub;

// Codes from the stored (sc, m), then low nibbles as Q4_K and bit 4 of element 32k + l into
// bit k of qh[l].
void requantize_and_pack(const float* x, BlockQ5K& b, uint8_t* L) {
  for (int j = 0; j < kNSub; ++j) {
    uint8_t sc, m;
    get_scale_min_k4(j, b.scales, &sc, &m);
    const float d = f16_to_f32(b.d) * static_cast<float>(sc);
    if (d == 0) continue;
    const float dm = f16_to_f32(b.dmin) * static_cast<float>(m);
    for (int ii = 0; ii < kSub; ++ii) {
      const int l = nearest_int((x[kSub * j + ii] + dm) / d);
      L[kSub * j + ii] = static_cast<uint8_t>(std::max(0, std::min(31, l)));
    }
  }
  std::memset(b.qh, 0, sizeof(b.qh));
  uint8_t* ql = b.qs;
  uint8_t m1 = 1, m2 = 2;
  for (int n = 0; n < kQKK; n += 64, ql += 32) {
    for (int j = 0; j < 32; ++j) {
      int l1 = L[n + j];
      if (l1 > 15) {
        l1 -= 16;
        b.qh[j] |= m1;
      }
      int l2 = L[n + j + 32];
      if (l2 > 15) {
        l2 -= 16;
        b.qh[j] |= m2;
      }
      ql[j] = static_cast<uint8_t>(l1 | (l2 << 4));
    }
    m1 = static_cast<uint8_t>(m1 << 2);
    m2 = static_cast<uint8_t>(m2 << 2);
  }
}

// ggml's quantize_row_q5_K_ref (as Q4_K's, with 31 levels and a narrower search).
void quantize_q5_k_ref(const float* x, BlockQ5K* y, int64_t nb) {
  uint8_t L[kQKK];
  float mins[kNSub];
  float scales[kNSub];
  float weights[kSub];
  uint8_t Laux[kSub];
  for (int64_t i = 0; i < nb; ++i, x += kQKK) {
    float max_scale = 0;
    float max_min = 0;
    for (int j = 0; j < kNSub; ++j) {
      const float* xs = x + kSub * j;
      float sum_x2 = 0;
      for (int l = 0; l < kSub; ++l) sum_x2 += xs[l] * xs[l];
      const float av_x = std::sqrt(sum_x2 / kSub);
      for (int l = 0; l < kSub; ++l) weights[l] = av_x + std::fabs(xs[l]);
      scales[j] = make_qkx2_quants(kSub, 31, xs, weights, L + kSub * j, &mins[j], Laux, -0.5f, 0.1f, 15, false);
      max_scale = std::max(max_scale, scales[j]);
      max_min = std::max(max_min, mins[j]);
    }
    const float inv_scale = max_scale > 0 ? 63.f / max_scale : 0.f;
    const float inv_min = max_min > 0 ? 63.f / max_min : 0.f;
    uint8_t ls[kNSub], lm[kNSub];
    for (int j = 0; j < kNSub; ++j) {
      ls[j] = std::min<uint8_t>(63, static_cast<uint8_t>(nearest_int(inv_scale * scales[j])));
      lm[j] = std::min<uint8_t>(63, static_cast<uint8_t>(nearest_int(inv_min * mins[j])));
    }
    set_scale_min_k4(ls, lm, y[i].scales);
    y[i].d = f32_to_f16(max_scale / 63.f);
    y[i].dmin = f32_to_f16(max_min / 63.f);
    requantize_and_pack(x, y[i], L);
  }
}

// ggml's quantize_row_q5_K_impl (as Q4_K's weighted path, 31 levels).
void quantize_q5_k_weighted(const float* x, BlockQ5K* y, int64_t nb, const float* importance) {
  uint8_t L[kQKK];
  uint8_t Laux[kSub];
  uint8_t Ls[kNSub], Lm[kNSub];
  float mins[kNSub];
  float scales[kNSub];
  float sw[kNSub];
  float weights[kSub];
  for (int64_t i = 0; i < nb; ++i, x += kQKK) {
    float sum_x2 = 0;
    for (int l = 0; l < kQKK; ++l) sum_x2 += x[l] * x[l];
    const float sigma2 = 2 * sum_x2 / kQKK;
    for (int j = 0; j < kNSub; ++j) {
      const float* qw = importance + kQKK * i + kSub * j;
      const float* xs = x + kSub * j;
      for (int l = 0; l < kSub; ++l) weights[l] = qw[l] * std::sqrt(sigma2 + xs[l] * xs[l]);
      float sumw = 0;
      for (int l = 0; l < kSub; ++l) sumw += weights[l];
      sw[j] = sumw;
      scales[j] = make_qkx3_quants(kSub, 31, xs, weights, L + kSub * j, &mins[j], Laux, -0.9f, 0.05f, 36, false);
    }
    const float d_block = make_qp_quants(kNSub, 63, scales, Ls, sw);
    const float m_block = make_qp_quants(kNSub, 63, mins, Lm, sw);
    for (int j = 0; j < kNSub; ++j) {
      Ls[j] = std::min<uint8_t>(63, Ls[j]);
      Lm[j] = std::min<uint8_t>(63, Lm[j]);
    }
    set_scale_min_k4(Ls, Lm, y[i].scales);
    y[i].d = f32_to_f16(d_block);
    y[i].dmin = f32_to_f16(m_block);
    requantize_and_pack(x, y[i], L);
  }
}

}  // namespace

void quantize_row_q5_k(const float* x, void* y, int64_t n, const float* importance) {
  auto* b = static_cast<BlockQ5K*>(y);
  if (importance) {
    quantize_q5_k_weighted(x, b, n / kQKK, importance);
  } else {
    quantize_q5_k_ref(x, b, n / kQKK);
  }
}

void dequantize_row_q5_k(const void* vx, float* y, int64_t n) {
  const auto* x = static_cast<const BlockQ5K*>(vx);
  for (int64_t i = 0; i < n / kQKK; ++i) {
    const uint8_t* ql = x[i].qs;
    const uint8_t* qh = x[i].qh;
    const float d = f16_to_f32(x[i].d);
    const float min = f16_to_f32(x[i].dmin);
    uint8_t u1 = 1, u2 = 2;
    for (int is = 0; is < kNSub; is += 2, ql += 32) {
      uint8_t sc, m;
      get_scale_min_k4(is, x[i].scales, &sc, &m);
      const float d1 = d * static_cast<float>(sc), m1 = min * static_cast<float>(m);
      get_scale_min_k4(is + 1, x[i].scales, &sc, &m);
      const float d2 = d * static_cast<float>(sc), m2 = min * static_cast<float>(m);
      for (int l = 0; l < 32; ++l)
        *y++ = d1 * static_cast<float>((ql[l] & 0xF) + (qh[l] & u1 ? 16 : 0)) - m1;
      for (int l = 0; l < 32; ++l)
        *y++ = d2 * static_cast<float>((ql[l] >> 4) + (qh[l] & u2 ? 16 : 0)) - m2;
      u1 = static_cast<uint8_t>(u1 << 2);
      u2 = static_cast<uint8_t>(u2 << 2);
    }
  }
}

}  // namespace lowbit
