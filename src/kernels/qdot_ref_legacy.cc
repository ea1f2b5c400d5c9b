// Plain-loop references for the legacy dot products (F32, F16, BF16 and the 32-element block
// formats), written to equal llama.cpp's ggml_vec_dot_<type>_<vec_dot_type>_generic
// (ggml/src/ggml-cpu/quants.c) and ggml_vec_dot_{f32,f16,bf16} (vec.cpp), including each
// function's float operation order: per block an exact int32 sum of code products, then one
// float expression with the two f16 scales, summed over blocks in a float. The float types
// sum products in double, as ggml's ggml_float does.
//
// These are the yardstick for the SIMD variants (qdot_legacy_avx2.cc / _avx512.cc): those
// compute the same per-block integer sums and differ only in the order of the float sums.
//
// Rows may sit at any byte address (GGUF tensor data is only 32-byte aligned at best, and the
// tests offset rows by one byte), so every block is copied out with memcpy rather than read
// through a possibly misaligned struct pointer.
#include <cstring>

#include "core/half.h"
#include "kernels/qdot.h"
#include "quant/codecs/blocks.h"

namespace lowbit {
namespace {

template <class Block>
inline Block load_block(const void* row, int64_t i) {
  Block b;
  std::memcpy(&b, static_cast<const uint8_t*>(row) + i * static_cast<int64_t>(sizeof(Block)), sizeof(Block));
  return b;
}

inline uint16_t load_u16(const void* row, int64_t i) {
  uint16_t v;
  std::memcpy(&v, static_cast<const uint8_t*>(row) + 2 * i, 2);
  return v;
}

// The 5-bit codes of a Q5_0 / Q5_1 block: low nibble from qs, bit 4 from qh (bit j of the
// little-endian u32 belongs to element j).
inline void q5_codes(const uint8_t* qs, const uint8_t* qh, int* lo, int* hi, int j) {
  uint32_t h;
  std::memcpy(&h, qh, 4);
  *lo = (qs[j] & 0x0F) | static_cast<int>(((h >> j) << 4) & 0x10);
  *hi = (qs[j] >> 4) | static_cast<int>((h >> (j + 12)) & 0x10);
}

}  // namespace

float dot_f32_f32__ref(int64_t n, const void* w, const void* a) {
  double s = 0;
  for (int64_t i = 0; i < n; ++i) {
    float x, y;
    std::memcpy(&x, static_cast<const uint8_t*>(w) + 4 * i, 4);
    std::memcpy(&y, static_cast<const uint8_t*>(a) + 4 * i, 4);
    s += static_cast<double>(x * y);  // float product, double sum (ggml_vec_dot_f32)
  }
  return static_cast<float>(s);
}

float dot_f16_f16__ref(int64_t n, const void* w, const void* a) {
  double s = 0;
  // The product of two halves is exact in float (11 x 11 significant bits).
  for (int64_t i = 0; i < n; ++i) s += static_cast<double>(f16_to_f32(load_u16(w, i)) * f16_to_f32(load_u16(a, i)));
  return static_cast<float>(s);
}

float dot_bf16_bf16__ref(int64_t n, const void* w, const void* a) {
  double s = 0;
  for (int64_t i = 0; i < n; ++i) s += static_cast<double>(bf16_to_f32(load_u16(w, i)) * bf16_to_f32(load_u16(a, i)));
  return static_cast<float>(s);
}

// sum_b (float)isum * d_w * d_a, left to right as ggml writes it.
float dot_q4_0_q8_0__ref(int64_t n, const void* w, const void* a) {
  float sumf = 0;
  for (int64_t i = 0; i < n / kQK32; ++i) {
    const auto x = load_block<BlockQ4_0>(w, i);
    const auto y = load_block<BlockQ8_0>(a, i);
    int sumi = 0;
    for (int j = 0; j < kQK32 / 2; ++j)
      sumi += ((x.qs[j] & 0x0F) - 8) * y.qs[j] + ((x.qs[j] >> 4) - 8) * y.qs[j + kQK32 / 2];
    sumf += static_cast<float>(sumi) * f16_to_f32(x.d) * f16_to_f32(y.d);
  }
  return sumf;
}

// sum_b (d_w * d_a) * isum + m_w * s_a: s_a = d_a * sum(q_a) carries the min term.
float dot_q4_1_q8_1__ref(int64_t n, const void* w, const void* a) {
  float sumf = 0;
  for (int64_t i = 0; i < n / kQK32; ++i) {
    const auto x = load_block<BlockQ4_1>(w, i);
    const auto y = load_block<BlockQ8_1>(a, i);
    int sumi = 0;
    for (int j = 0; j < kQK32 / 2; ++j)
      sumi += (x.qs[j] & 0x0F) * y.qs[j] + (x.qs[j] >> 4) * y.qs[j + kQK32 / 2];
    sumf += (f16_to_f32(x.d) * f16_to_f32(y.d)) * static_cast<float>(sumi) + f16_to_f32(x.m) * f16_to_f32(y.s);
  }
  return sumf;
}

float dot_q5_0_q8_0__ref(int64_t n, const void* w, const void* a) {
  float sumf = 0;
  for (int64_t i = 0; i < n / kQK32; ++i) {
    const auto x = load_block<BlockQ5_0>(w, i);
    const auto y = load_block<BlockQ8_0>(a, i);
    int sumi = 0;
    for (int j = 0; j < kQK32 / 2; ++j) {
      int lo, hi;
      q5_codes(x.qs, x.qh, &lo, &hi, j);
      sumi += (lo - 16) * y.qs[j] + (hi - 16) * y.qs[j + kQK32 / 2];
    }
    sumf += (f16_to_f32(x.d) * f16_to_f32(y.d)) * static_cast<float>(sumi);
  }
  return sumf;
}

float dot_q5_1_q8_1__ref(int64_t n, const void* w, const void* a) {
  float sumf = 0;
  for (int64_t i = 0; i < n / kQK32; ++i) {
    const auto x = load_block<BlockQ5_1>(w, i);
    const auto y = load_block<BlockQ8_1>(a, i);
    int sumi = 0;
    for (int j = 0; j < kQK32 / 2; ++j) {
      int lo, hi;
      q5_codes(x.qs, x.qh, &lo, &hi, j);
      sumi += lo * y.qs[j] + hi * y.qs[j + kQK32 / 2];
    }
    sumf += (f16_to_f32(x.d) * f16_to_f32(y.d)) * static_cast<float>(sumi) + f16_to_f32(x.m) * f16_to_f32(y.s);
  }
  return sumf;
}

float dot_q8_0_q8_0__ref(int64_t n, const void* w, const void* a) {
  float sumf = 0;
  for (int64_t i = 0; i < n / kQK32; ++i) {
    const auto x = load_block<BlockQ8_0>(w, i);
    const auto y = load_block<BlockQ8_0>(a, i);
    int sumi = 0;
    for (int j = 0; j < kQK32; ++j) sumi += x.qs[j] * y.qs[j];
    sumf += static_cast<float>(sumi) * (f16_to_f32(x.d) * f16_to_f32(y.d));
  }
  return sumf;
}

float dot_iq4_nl_q8_0__ref(int64_t n, const void* w, const void* a) {
  float sumf = 0;
  for (int64_t i = 0; i < n / kQK32; ++i) {
    const auto x = load_block<BlockIq4Nl>(w, i);
    const auto y = load_block<BlockQ8_0>(a, i);
    const float d = f16_to_f32(y.d) * f16_to_f32(x.d);
    int sumi1 = 0, sumi2 = 0;
    for (int j = 0; j < kQK32 / 2; ++j) {
      sumi1 += y.qs[j] * kIq4nlValues[x.qs[j] & 0x0F];
      sumi2 += y.qs[j + kQK32 / 2] * kIq4nlValues[x.qs[j] >> 4];
    }
    sumf += d * static_cast<float>(sumi1 + sumi2);
  }
  return sumf;
}

}  // namespace lowbit
