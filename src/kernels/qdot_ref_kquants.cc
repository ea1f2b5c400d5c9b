// Plain-loop references of the K-quant family's dot products against Q8_K activations:
// Q2_K, Q3_K, Q4_K, Q5_K, Q6_K, IQ4_XS, TQ1_0, TQ2_0 (llama.cpp's ggml_vec_dot_<type>_q8_K).
//
// Each super-block of 256 gives exact integer sums in int32: isum = sum over sub-blocks of
// (integer sub-block scale) * sum(code * q8), and for the affine types (Q2_K, Q4_K, Q5_K)
// summs = sum over sub-blocks of (integer min) * (sum of the sub-block's q8, from bsums).
// The float part is one line per super-block:
//   sum += (d_w * d_a) * isum - (dmin_w * d_a) * summs
// The SIMD variants compute the same isum/summs (any order, same integers) and differ only in
// how the per-block float products are added up.
//
// Codes are read element by element through the layout comments of quant/codecs/blocks.h, not
// through the SIMD-friendly groupings, so this file doubles as a check of those comments.
// Bounds: |isum| < 2^31 for any bytes (worst case Q6_K: 256 * 128 * 32 * 127 < 2^27).
#include <cstdint>
#include <cstring>

#include "core/half.h"
#include "kernels/qdot.h"
#include "quant/codecs/blocks.h"

namespace lowbit {
namespace {

// The 2-bit field of element e in the Q2_K / Q3_K / TQ2_0 qs layout: half e/128, byte e%32, bit pair
// (e%128)/32.
int q2_code(const uint8_t* qs, int e) {
  const int half = e / 128, r = e % 128;
  return (qs[32 * half + r % 32] >> (2 * (r / 32))) & 3;
}

// Sixteen 6-bit Q3_K scales minus 32.
int q3_scale(const uint8_t* s, int j) {
  const int lo = j < 8 ? s[j] & 0xF : s[j - 8] >> 4;
  const int hi = (s[8 + j % 4] >> (2 * (j / 4))) & 3;
  return (lo | hi << 4) - 32;
}

// The 4-bit field of element e in the Q4_K / Q5_K qs layout: chunk e/64 of 32 bytes, low
// nibble for the first 32 elements of the chunk, high nibble for the next 32.
int q4_code(const uint8_t* qs, int e) {
  const int chunk = e / 64, r = e % 64;
  const uint8_t b = qs[32 * chunk + r % 32];
  return r < 32 ? b & 0xF : b >> 4;
}

// Q6_K: 4 low bits from ql, 2 high bits from qh, code 0..63 (the value is code - 32).
int q6_code(const uint8_t* ql, const uint8_t* qh, int e) {
  const int half = e / 128, r = e % 128, quarter = r / 32, l = r % 32;
  const uint8_t b = ql[64 * half + 32 * (quarter & 1) + l];
  const int lo = quarter < 2 ? b & 0xF : b >> 4;
  const int hi = (qh[32 * half + l] >> (2 * quarter)) & 3;
  return lo | hi << 4;
}

// IQ4_XS element e: nibble of byte 16*(e/32) + e%16 (low for e%32 < 16) into the grid.
int iq4_value(const uint8_t* qs, int e) {
  const int sub = e / 32, j = e % 32;
  const uint8_t b = qs[16 * sub + j % 16];
  return kIq4nlValues[j < 16 ? b & 0xF : b >> 4];
}

int iq4xs_scale(const BlockIq4Xs& b, int sub) {
  const int lo = (b.scales_l[sub / 2] >> (4 * (sub % 2))) & 0xF;
  const int hi = (b.scales_h >> (2 * sub)) & 3;
  return (lo | hi << 4) - 32;
}

// Digit n (0..4) of a TQ1_0 byte, read as a base-3 fixed-point fraction.
int tq1_digit(uint8_t b, int n) {
  static constexpr uint8_t kPow3[5] = {1, 3, 9, 27, 81};
  const uint8_t q = static_cast<uint8_t>(b * kPow3[n]);
  return (q * 3) >> 8;
}

// TQ1_0 element e's trit + 1 (0..2).
int tq1_code(const BlockTq1_0& b, int e) {
  if (e < 160) return tq1_digit(b.qs[e % 32], e / 32);
  if (e < 240) return tq1_digit(b.qs[32 + (e - 160) % 16], (e - 160) / 16);
  return tq1_digit(b.qh[(e - 240) % 4], (e - 240) / 4);
}

// sum of q8 over sub-block `sub` of `len` elements (16 or 32), from bsums.
int q8_sub_sum(const BlockQ8K& a, int sub, int len) {
  int s = 0;
  for (int k = 0; k < len / 16; ++k) s += a.bsums[sub * (len / 16) + k];
  return s;
}

// Block i of a row, copied out: rows may start at any byte address.
template <class B>
B block_at(const void* row, int64_t i) {
  B b;
  std::memcpy(&b, static_cast<const uint8_t*>(row) + i * static_cast<int64_t>(sizeof(B)), sizeof(B));
  return b;
}

}  // namespace

float dot_q2_K_q8_K__ref(int64_t n, const void* vw, const void* va) {
  using Block = BlockQ2K;
  float sum = 0;
  for (int64_t i = 0; i < n / kQKK; ++i) {
    const auto w = block_at<Block>(vw, i);
    const auto a = block_at<BlockQ8K>(va, i);
    int32_t isum = 0, summs = 0;
    for (int sub = 0; sub < 16; ++sub) {
      int32_t s = 0;
      for (int e = 16 * sub; e < 16 * sub + 16; ++e) s += q2_code(w.qs, e) * a.qs[e];
      isum += (w.scales[sub] & 0xF) * s;
      summs += (w.scales[sub] >> 4) * a.bsums[sub];
    }
    const float d = a.d * f16_to_f32(w.d);
    const float dmin = a.d * f16_to_f32(w.dmin);
    sum += d * static_cast<float>(isum) - dmin * static_cast<float>(summs);
  }
  return sum;
}

float dot_q3_K_q8_K__ref(int64_t n, const void* vw, const void* va) {
  using Block = BlockQ3K;
  float sum = 0;
  for (int64_t i = 0; i < n / kQKK; ++i) {
    const auto w = block_at<Block>(vw, i);
    const auto a = block_at<BlockQ8K>(va, i);
    int32_t isum = 0;
    for (int sub = 0; sub < 16; ++sub) {
      int32_t s = 0;
      for (int e = 16 * sub; e < 16 * sub + 16; ++e) {
        const int high = (w.hmask[e % 32] >> (e / 32)) & 1;
        s += (q2_code(w.qs, e) - (high ? 0 : 4)) * a.qs[e];
      }
      isum += q3_scale(w.scales, sub) * s;
    }
    sum += (a.d * f16_to_f32(w.d)) * static_cast<float>(isum);
  }
  return sum;
}

float dot_q4_K_q8_K__ref(int64_t n, const void* vw, const void* va) {
  using Block = BlockQ4K;
  float sum = 0;
  for (int64_t i = 0; i < n / kQKK; ++i) {
    const auto w = block_at<Block>(vw, i);
    const auto a = block_at<BlockQ8K>(va, i);
    int32_t isum = 0, summs = 0;
    for (int sub = 0; sub < 8; ++sub) {
      uint8_t sc, m;
      get_scale_min_k4(sub, w.scales, &sc, &m);
      int32_t s = 0;
      for (int e = 32 * sub; e < 32 * sub + 32; ++e) s += q4_code(w.qs, e) * a.qs[e];
      isum += sc * s;
      summs += m * q8_sub_sum(a, sub, 32);
    }
    const float d = a.d * f16_to_f32(w.d);
    const float dmin = a.d * f16_to_f32(w.dmin);
    sum += d * static_cast<float>(isum) - dmin * static_cast<float>(summs);
  }
  return sum;
}

float dot_q5_K_q8_K__ref(int64_t n, const void* vw, const void* va) {
  using Block = BlockQ5K;
  float sum = 0;
  for (int64_t i = 0; i < n / kQKK; ++i) {
    const auto w = block_at<Block>(vw, i);
    const auto a = block_at<BlockQ8K>(va, i);
    int32_t isum = 0, summs = 0;
    for (int sub = 0; sub < 8; ++sub) {
      uint8_t sc, m;
      get_scale_min_k4(sub, w.scales, &sc, &m);
      int32_t s = 0;
      for (int e = 32 * sub; e < 32 * sub + 32; ++e) {
        const int high = (w.qh[e % 32] >> (e / 32)) & 1;
        s += (q4_code(w.qs, e) | high << 4) * a.qs[e];
      }
      isum += sc * s;
      summs += m * q8_sub_sum(a, sub, 32);
    }
    const float d = a.d * f16_to_f32(w.d);
    const float dmin = a.d * f16_to_f32(w.dmin);
    sum += d * static_cast<float>(isum) - dmin * static_cast<float>(summs);
  }
  return sum;
}

float dot_q6_K_q8_K__ref(int64_t n, const void* vw, const void* va) {
  using Block = BlockQ6K;
  float sum = 0;
  for (int64_t i = 0; i < n / kQKK; ++i) {
    const auto w = block_at<Block>(vw, i);
    const auto a = block_at<BlockQ8K>(va, i);
    int32_t isum = 0;
    for (int sub = 0; sub < 16; ++sub) {
      int32_t s = 0;
      for (int e = 16 * sub; e < 16 * sub + 16; ++e) s += (q6_code(w.ql, w.qh, e) - 32) * a.qs[e];
      isum += w.scales[sub] * s;
    }
    sum += (a.d * f16_to_f32(w.d)) * static_cast<float>(isum);
  }
  return sum;
}

float dot_iq4_xs_q8_K__ref(int64_t n, const void* vw, const void* va) {
  using Block = BlockIq4Xs;
  float sum = 0;
  for (int64_t i = 0; i < n / kQKK; ++i) {
    const auto w = block_at<Block>(vw, i);
    const auto a = block_at<BlockQ8K>(va, i);
    int32_t isum = 0;
    for (int sub = 0; sub < 8; ++sub) {
      int32_t s = 0;
      for (int e = 32 * sub; e < 32 * sub + 32; ++e) s += iq4_value(w.qs, e) * a.qs[e];
      isum += iq4xs_scale(w, sub) * s;
    }
    // ggml's generic loop scales each sub-block in float; the integer form is the exact value
    // its x86 kernels compute.
    sum += (a.d * f16_to_f32(w.d)) * static_cast<float>(isum);
  }
  return sum;
}

float dot_tq1_0_q8_K__ref(int64_t n, const void* vw, const void* va) {
  using Block = BlockTq1_0;
  float sum = 0;
  for (int64_t i = 0; i < n / kQKK; ++i) {
    const auto w = block_at<Block>(vw, i);
    const auto a = block_at<BlockQ8K>(va, i);
    int32_t isum = 0;
    for (int e = 0; e < kQKK; ++e) isum += (tq1_code(w, e) - 1) * a.qs[e];
    sum += (a.d * f16_to_f32(w.d)) * static_cast<float>(isum);
  }
  return sum;
}

float dot_tq2_0_q8_K__ref(int64_t n, const void* vw, const void* va) {
  using Block = BlockTq2_0;
  float sum = 0;
  for (int64_t i = 0; i < n / kQKK; ++i) {
    const auto w = block_at<Block>(vw, i);
    const auto a = block_at<BlockQ8K>(va, i);
    int32_t isum = 0;
    for (int e = 0; e < kQKK; ++e) isum += (q2_code(w.qs, e) - 1) * a.qs[e];  // same layout as Q2_K
    sum += (a.d * f16_to_f32(w.d)) * static_cast<float>(isum);
  }
  return sum;
}

}  // namespace lowbit
