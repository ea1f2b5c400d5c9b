// Q6_K: 256 weights in 16 sub-blocks of 16; x = d * sc * (q - 32) with a signed 8-bit sc per
// sub-block and q in 0..63 (4 low bits in ql, 2 high bits in qh). See blocks.h.
#include <algorithm>
#include <cmath>
#include <cstring>

#include "core/half.h"
#include "quant/codecs/blocks.h"
#include "quant/codecs/codec.h"
#include "quant/codecs/scale_search.h"

namespace lowbit {
namespace {

constexpr int kSub = 16;
constexpr int kNSub = kQKK / kSub;

// ggml's quantize_row_q6_K_ref / _impl (they differ only in make_qx_quants' weights: x^2 or
// the importance itself): a symmetric fit per sub-block, the scales as int8 against the one
// of largest magnitude (mapped to -128), then codes from the stored scales.
void quantize_q6_k(const float* x, BlockQ6K* y, int64_t nb, const float* importance) {
  int8_t L[kQKK];
  float scales[kNSub];
  for (int64_t i = 0; i < nb; ++i, x += kQKK) {
    float max_scale = 0;
    float max_abs_scale = 0;
    for (int ib = 0; ib < kNSub; ++ib) {
      const float* qw = importance ? importance + kQKK * i + kSub * ib : nullptr;
      const float scale = make_qx_quants(kSub, 32, x + kSub * ib, L + kSub * ib, 1, qw);
      scales[ib] = scale;
      const float abs_scale = std::fabs(scale);
      if (abs_scale > max_abs_scale) {
        max_abs_scale = abs_scale;
        max_scale = scale;
      }
    }
    if (max_abs_scale < kGroupMaxEps) {
      std::memset(&y[i], 0, sizeof(BlockQ6K));
      y[i].d = f32_to_f16(0.f);
      continue;
    }
    const float iscale = -128.f / max_scale;
    y[i].d = f32_to_f16(1 / iscale);
    for (int ib = 0; ib < kNSub; ++ib)
      y[i].scales[ib] = static_cast<int8_t>(std::min(127, nearest_int(iscale * scales[ib])));
    for (int j = 0; j < kNSub; ++j) {
      const float d = f16_to_f32(y[i].d) * static_cast<float>(y[i].scales[j]);
      if (d == 0) continue;
      for (int ii = 0; ii < kSub; ++ii) {
        const int l = nearest_int(x[kSub * j + ii] / d);
        L[kSub * j + ii] = static_cast<int8_t>(std::max(-32, std::min(31, l)) + 32);
      }
    }
    uint8_t* ql = y[i].ql;
    uint8_t* qh = y[i].qh;
    for (int j = 0; j < kQKK; j += 128, ql += 64, qh += 32) {
      for (int l = 0; l < 32; ++l) {
        const int q1 = L[j + l + 0], q2 = L[j + l + 32], q3 = L[j + l + 64], q4 = L[j + l + 96];
        ql[l + 0] = static_cast<uint8_t>((q1 & 0xF) | ((q3 & 0xF) << 4));
        ql[l + 32] = static_cast<uint8_t>((q2 & 0xF) | ((q4 & 0xF) << 4));
        qh[l] = static_cast<uint8_t>((q1 >> 4) | ((q2 >> 4) << 2) | ((q3 >> 4) << 4) | ((q4 >> 4) << 6));
      }
    }
  }
}

}  // namespace

void quantize_row_q6_k(const float* x, void* y, int64_t n, const float* importance) {
  quantize_q6_k(x, static_cast<BlockQ6K*>(y), n / kQKK, importance);
}

void dequantize_row_q6_k(const void* vx, float* y, int64_t n) {
  const auto* x = static_cast<const BlockQ6K*>(vx);
  for (int64_t i = 0; i < n / kQKK; ++i) {
    const float d = f16_to_f32(x[i].d);
    const uint8_t* ql = x[i].ql;
    const uint8_t* qh = x[i].qh;
    const int8_t* sc = x[i].scales;
    for (int half = 0; half < 2; ++half, y += 128, ql += 64, qh += 32, sc += 8) {
      for (int l = 0; l < 32; ++l) {
        const int is = l / 16;
        const int q1 = ((ql[l + 0] & 0xF) | (((qh[l] >> 0) & 3) << 4)) - 32;
        const int q2 = ((ql[l + 32] & 0xF) | (((qh[l] >> 2) & 3) << 4)) - 32;
        const int q3 = ((ql[l + 0] >> 4) | (((qh[l] >> 4) & 3) << 4)) - 32;
        const int q4 = ((ql[l + 32] >> 4) | (((qh[l] >> 6) & 3) << 4)) - 32;
        // (d * sc) * q, ggml's evaluation order.
        y[l + 0] = d * static_cast<float>(sc[is + 0]) * static_cast<float>(q1);
        y[l + 32] = d * static_cast<float>(sc[is + 2]) * static_cast<float>(q2);
        y[l + 64] = d * static_cast<float>(sc[is + 4]) * static_cast<float>(q3);
        y[l + 96] = d * static_cast<float>(sc[is + 6]) * static_cast<float>(q4);
      }
    }
  }
}

}  // namespace lowbit
