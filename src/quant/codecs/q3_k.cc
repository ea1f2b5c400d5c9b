// Q3_K: 256 weights in 16 sub-blocks of 16; x = d * (sc - 32) * (q - 4) with a 6-bit sc per
// sub-block and q in 0..7 (2 low bits in qs, the high bit in hmask). See blocks.h.
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

// Stores the sixteen 6-bit scales l (0..63): low nibbles in bytes 0..7, high pairs in 8..11.
void pack_scales(const int* ls, uint8_t* scales) {
  std::memset(scales, 0, 12);
  for (int j = 0; j < kNSub; ++j) {
    int l = ls[j];
    if (j < 8) {
      scales[j] = static_cast<uint8_t>(l & 0xF);
    } else {
      scales[j - 8] |= static_cast<uint8_t>((l & 0xF) << 4);
    }
    l >>= 4;
    scales[j % 4 + 8] |= static_cast<uint8_t>(l << (2 * (j / 4)));
  }
}

// The signed scale (sc - 32) of sub-block j.
int unpack_scale(const uint8_t* scales, int j) {
  const int lo = j < 8 ? scales[j] & 0xF : scales[j - 8] >> 4;
  return (lo | (((scales[8 + j % 4] >> (2 * (j / 4))) & 3) << 4)) - 32;
}

// Codes from the stored scales (q = clamp(round(x / (d*sc)), -4, 3) + 4), then the bit split:
// the high bit of element e goes to bit e/32 of hmask[e%32], the low two bits into qs.
void requantize_and_pack(const float* x, BlockQ3K& b, int8_t* L) {
  const float d_all = f16_to_f32(b.d);
  for (int j = 0; j < kNSub; ++j) {
    const float d = d_all * static_cast<float>(unpack_scale(b.scales, j));
    if (d == 0) continue;
    for (int ii = 0; ii < kSub; ++ii) {
      const int l = nearest_int(x[kSub * j + ii] / d);
      L[kSub * j + ii] = static_cast<int8_t>(std::max(-4, std::min(3, l)) + 4);
    }
  }
  std::memset(b.hmask, 0, sizeof(b.hmask));
  for (int j = 0; j < kQKK; ++j) {
    if (L[j] > 3) {
      b.hmask[j % 32] |= static_cast<uint8_t>(1 << (j / 32));
      L[j] = static_cast<int8_t>(L[j] - 4);
    }
  }
  for (int j = 0; j < kQKK; j += 128)
    for (int l = 0; l < 32; ++l)
      b.qs[j / 4 + l] = static_cast<uint8_t>(L[j + l] | (L[j + l + 32] << 2) | (L[j + l + 64] << 4) |
                                             (L[j + l + 96] << 6));
}

// ggml's quantize_row_q3_K_ref: per sub-block make_q3_quants (x^2-weighted coordinate descent),
// then the scales quantized to 6 bits against the one of largest magnitude (mapped to -32).
void quantize_q3_k_ref(const float* x, BlockQ3K* y, int64_t nb) {
  int8_t L[kQKK];
  float scales[kNSub];
  int ls[kNSub];
  for (int64_t i = 0; i < nb; ++i, x += kQKK) {
    float max_scale = 0;
    float amax = 0;
    for (int j = 0; j < kNSub; ++j) {
      scales[j] = make_q3_quants(kSub, 4, x + kSub * j, L + kSub * j, true);
      const float scale = std::fabs(scales[j]);
      if (scale > amax) {
        amax = scale;
        max_scale = scales[j];
      }
    }
    if (max_scale != 0) {
      const float iscale = -32.f / max_scale;
      for (int j = 0; j < kNSub; ++j) {
        const int8_t l = static_cast<int8_t>(nearest_int(iscale * scales[j]));
        ls[j] = std::max<int>(-32, std::min<int>(31, l)) + 32;
      }
      pack_scales(ls, y[i].scales);
      y[i].d = f32_to_f16(1 / iscale);
    } else {
      std::memset(y[i].scales, 0, 12);
      y[i].d = f32_to_f16(0.f);
    }
    requantize_and_pack(x, y[i], L);
  }
}

// ggml's quantize_row_q3_K_impl: make_qx_quants per sub-block with importance weights, and
// the 16 scales fitted by make_qx_quants too (weighted by each sub-block's total weight).
void quantize_q3_k_weighted(const float* x, BlockQ3K* y, int64_t nb, const float* importance) {
  int8_t L[kQKK];
  float scales[kNSub];
  float weight[kSub];
  float sw[kNSub];
  int8_t Ls[kNSub];
  int ls[kNSub];
  for (int64_t i = 0; i < nb; ++i, x += kQKK) {
    float sumx2 = 0;
    for (int j = 0; j < kQKK; ++j) sumx2 += x[j] * x[j];
    const float sigma2 = 2 * sumx2 / kQKK;
    for (int j = 0; j < kNSub; ++j) {
      const float* qw = importance + kQKK * i + kSub * j;
      const float* xs = x + kSub * j;
      for (int l = 0; l < kSub; ++l) weight[l] = qw[l] * std::sqrt(sigma2 + xs[l] * xs[l]);
      float sumw = 0;
      for (int l = 0; l < kSub; ++l) sumw += weight[l];
      sw[j] = sumw;
      scales[j] = make_qx_quants(kSub, 4, xs, L + kSub * j, 1, weight);
    }
    const float d_block = make_qx_quants(kNSub, 32, scales, Ls, 1, sw);
    for (int j = 0; j < kNSub; ++j) ls[j] = Ls[j];
    pack_scales(ls, y[i].scales);
    y[i].d = f32_to_f16(d_block);
    requantize_and_pack(x, y[i], L);
  }
}

}  // namespace

void quantize_row_q3_k(const float* x, void* y, int64_t n, const float* importance) {
  auto* b = static_cast<BlockQ3K*>(y);
  if (importance) {
    quantize_q3_k_weighted(x, b, n / kQKK, importance);
  } else {
    quantize_q3_k_ref(x, b, n / kQKK);
  }
}

void dequantize_row_q3_k(const void* vx, float* y, int64_t n) {
  const auto* x = static_cast<const BlockQ3K*>(vx);
  for (int64_t i = 0; i < n / kQKK; ++i) {
    const float d_all = f16_to_f32(x[i].d);
    int sc[kNSub];
    for (int j = 0; j < kNSub; ++j) sc[j] = unpack_scale(x[i].scales, j);
    const uint8_t* q = x[i].qs;
    const uint8_t* hm = x[i].hmask;
    uint8_t m = 1;
    int is = 0;
    for (int half = 0; half < 2; ++half, q += 32) {
      for (int shift = 0; shift < 8; shift += 2, m = static_cast<uint8_t>(m << 1)) {
        for (int k = 0; k < 2; ++k) {
          const float dl = d_all * static_cast<float>(sc[is++]);
          for (int l = 16 * k; l < 16 * k + 16; ++l)
            *y++ = dl * static_cast<float>(((q[l] >> shift) & 3) - ((hm[l] & m) ? 0 : 4));
        }
      }
    }
  }
}

}  // namespace lowbit
