// AVX2 dot products of the K-quant family against Q8_K (references: qdot_ref_kquants.cc).
//
// Shared shape: per super-block, codes are unpacked to unsigned bytes and multiplied with the
// Q8_K bytes by vpmaddubsw (u8 * s8 pairs -> i16; no saturation: codes <= 63 and |q8| <= 127;
// IQ4_XS's signed grid values go in as |v| with the sign moved onto q8), then vpmaddwd by the
// sub-block scales broadcast from one register with vpshufb (i16 pairs -> i32). Constant offsets (Q6_K's -32, Q3_K's -4, the ternary -1) and the mins of
// Q2_K/Q4_K/Q5_K come from Q8_K's bsums: sum(sc * (q - c) * y) = sum(sc * q * y) - c * sum(sc *
// bsum). The i32 block sums are exact; they are scaled by d_w * d_a in float and accumulated
// per lane, added up once at the end.
//
// This file is compiled with -mavx2 -mfma -mf16c -mbmi2. It must not call inline functions of
// shared headers (f16_to_f32, get_scale_min_k4...): the linker may keep this file's copy of
// such a function for the whole program.
#include <immintrin.h>

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <type_traits>

#include "kernels/qdot.h"
#include "quant/codecs/blocks.h"

namespace lowbit {
namespace {

// Rows may start at any byte address (the tests use odd ones), so block fields are reached
// through byte pointers and offsetof, scalars read with memcpy: never a misaligned struct.
inline float f16_at(const uint8_t* p) {
  uint16_t h;
  std::memcpy(&h, p, 2);
  return _mm_cvtss_f32(_mm_cvtph_ps(_mm_cvtsi32_si128(h)));
}
// Two adjacent f16 fields (d, dmin) as floats 0 and 1.
inline __m128 f16x2_at(const uint8_t* p) {
  uint32_t u;
  std::memcpy(&u, p, 4);
  return _mm_cvtph_ps(_mm_cvtsi32_si128(static_cast<int>(u)));
}

// One Q8_K block: its scale, codes and 16-element sums.
struct Q8 {
  float d;
  const uint8_t* qs;
  const uint8_t* bsums;
  explicit Q8(const uint8_t* b) : qs(b + offsetof(BlockQ8K, qs)), bsums(b + offsetof(BlockQ8K, bsums)) {
    std::memcpy(&d, b + offsetof(BlockQ8K, d), 4);
  }
};

inline __m256i load(const void* p) { return _mm256_loadu_si256(static_cast<const __m256i*>(p)); }
inline __m128i load128(const void* p) { return _mm_loadu_si128(static_cast<const __m128i*>(p)); }

inline float hsum(__m128 h) {
  h = _mm_add_ps(h, _mm_movehl_ps(h, h));
  h = _mm_add_ss(h, _mm_movehdup_ps(h));
  return _mm_cvtss_f32(h);
}
inline float hsum(__m256 v) { return hsum(_mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1))); }

// vpshufb control filling 128-bit lane 0 with i16 word w0 of that lane and lane 1 with word w1.
inline __m256i word_bcast(int w0, int w1) {
  const auto rep = [](int w) {
    return static_cast<long long>(0x0001000100010001ull * static_cast<uint64_t>((2 * w + 1) << 8 | 2 * w));
  };
  return _mm256_set_epi64x(rep(w1), rep(w1), rep(w0), rep(w0));
}

// Moves bit `from` of every byte to bit `to` (other bits: garbage, mask them). The 16-bit
// shifts never carry a neighbour byte's bit into `to` for the (from, to) pairs used here.
inline __m256i move_bit(__m256i v, int from, int to) {
  return from >= to ? _mm256_srli_epi16(v, from - to) : _mm256_slli_epi16(v, to - from);
}

// Q3_K's sixteen 6-bit scales minus 32, as bytes (layout in blocks.h).
inline __m128i q3_scales(const uint8_t* s) {
  uint32_t a[3];
  std::memcpy(a, s, 12);
  const uint32_t lo4 = 0x0f0f0f0f, lo2 = 0x03030303;
  const uint32_t u0 = (a[0] & lo4) | ((a[2] & lo2) << 4);
  const uint32_t u1 = (a[1] & lo4) | (((a[2] >> 2) & lo2) << 4);
  const uint32_t u2 = ((a[0] >> 4) & lo4) | (((a[2] >> 4) & lo2) << 4);
  const uint32_t u3 = ((a[1] >> 4) & lo4) | (((a[2] >> 6) & lo2) << 4);
  return _mm_sub_epi8(_mm_set_epi32(static_cast<int>(u3), static_cast<int>(u2), static_cast<int>(u1),
                                    static_cast<int>(u0)),
                      _mm_set1_epi8(32));
}

// Q4_K / Q5_K's eight 6-bit (scale, min) pairs as 16 i16 words: scales 0..7, then mins 0..7
// (get_scale_min_k4, four at a time).
inline __m256i k4_scales_mins(const uint8_t* s) {
  uint32_t a[3];
  std::memcpy(a, s, 12);
  const uint32_t sc0 = a[0] & 0x3f3f3f3f;
  const uint32_t sc1 = (a[2] & 0x0f0f0f0f) | (((a[0] >> 6) & 0x03030303) << 4);
  const uint32_t mn0 = a[1] & 0x3f3f3f3f;
  const uint32_t mn1 = ((a[2] >> 4) & 0x0f0f0f0f) | (((a[1] >> 6) & 0x03030303) << 4);
  return _mm256_cvtepu8_epi16(_mm_set_epi32(static_cast<int>(mn1), static_cast<int>(mn0), static_cast<int>(sc1),
                                            static_cast<int>(sc0)));
}

// IQ4_XS's eight 6-bit scales minus 32 as i16 words.
inline __m128i iq4xs_scales(const uint8_t* b) {
  uint32_t sl;
  uint16_t sh;
  std::memcpy(&sl, b + offsetof(BlockIq4Xs, scales_l), 4);
  std::memcpy(&sh, b + offsetof(BlockIq4Xs, scales_h), 2);
  uint64_t lo = sl;  // nibble s -> byte s
  lo = (lo | lo << 16) & 0x0000FFFF0000FFFFull;
  lo = (lo | lo << 8) & 0x00FF00FF00FF00FFull;
  lo = (lo | lo << 4) & 0x0F0F0F0F0F0F0F0Full;
  uint64_t hi = sh;  // bit pair s -> byte s
  hi = (hi | hi << 24) & 0x000000FF000000FFull;
  hi = (hi | hi << 12) & 0x000F000F000F000Full;
  hi = (hi | hi << 6) & 0x0303030303030303ull;
  const __m128i ls = _mm_cvtsi64_si128(static_cast<long long>(lo | hi << 4));
  return _mm_sub_epi16(_mm_cvtepu8_epi16(ls), _mm_set1_epi16(32));
}

// [q >= 86] + [q >= 171] = (q * 3) >> 8 for unsigned bytes: TQ1_0's digit of a byte already
// multiplied by 3^n (mod 256).
inline __m256i tq1_digits(__m256i q) {
  const __m256i t = _mm256_xor_si256(q, _mm256_set1_epi8(static_cast<char>(0x80)));  // unsigned -> signed order
  const __m256i ge86 = _mm256_cmpgt_epi8(t, _mm256_set1_epi8(85 - 128));
  const __m256i ge171 = _mm256_cmpgt_epi8(t, _mm256_set1_epi8(170 - 128));
  return _mm256_sub_epi8(_mm256_sub_epi8(_mm256_setzero_si256(), ge86), ge171);
}

// Byte-wise multiplication by 3 and 9 modulo 256 (AVX2 has no 8-bit multiply).
inline __m256i mul3(__m256i v) { return _mm256_add_epi8(v, _mm256_add_epi8(v, v)); }
inline __m256i mul9(__m256i v) {
  return _mm256_add_epi8(_mm256_and_si256(_mm256_slli_epi16(v, 3), _mm256_set1_epi8(static_cast<char>(0xF8))), v);
}
inline __m128i mul3(__m128i v) { return _mm_add_epi8(v, _mm_add_epi8(v, v)); }
inline __m128i mul9(__m128i v) {
  return _mm_add_epi8(_mm_and_si128(_mm_slli_epi16(v, 3), _mm_set1_epi8(static_cast<char>(0xF8))), v);
}

}  // namespace

float dot_q2_K_q8_K__avx2(int64_t n, const void* vw, const void* va) {
  const auto* wrow = static_cast<const uint8_t*>(vw);
  const auto* arow = static_cast<const uint8_t*>(va);
  using Block = BlockQ2K;
  const __m256i m3 = _mm256_set1_epi8(3);
  const __m128i m4 = _mm_set1_epi8(0xF);
  __m256 acc = _mm256_setzero_ps();
  for (int64_t i = 0; i < n / kQKK; ++i) {
    const uint8_t* x = wrow + i * sizeof(Block);
    const Q8 y(arow + i * sizeof(BlockQ8K));
    static_assert(offsetof(Block, dmin) == offsetof(Block, d) + 2);
    const __m128 dm = _mm_mul_ps(f16x2_at(x + offsetof(Block, d)), _mm_set1_ps(y.d));  // d_w d_a, dmin_w d_a
    const float d = _mm_cvtss_f32(dm);
    const float neg_dmin = -_mm_cvtss_f32(_mm_movehdup_ps(dm));
    const __m128i packed = load128(x + offsetof(Block, scales));
    const __m256i sc = _mm256_cvtepu8_epi16(_mm_and_si128(packed, m4));
    const __m256i mn = _mm256_cvtepu8_epi16(_mm_and_si128(_mm_srli_epi16(packed, 4), m4));
    const __m256i summs = _mm256_madd_epi16(mn, load(y.bsums));
    // Scales of sub-blocks 8h..8h+7 in both lanes.
    const __m256i sc_half[2] = {_mm256_permute2x128_si256(sc, sc, 0x00), _mm256_permute2x128_si256(sc, sc, 0x11)};
    __m256i sumi = _mm256_setzero_si256();
#pragma GCC unroll 2
    for (int h = 0; h < 2; ++h) {
      const __m256i bits = load(x + offsetof(Block, qs) + 32 * h);
#pragma GCC unroll 4
      for (int k = 0; k < 4; ++k) {  // elements 128h + 32k + l: sub-blocks 8h + 2k, 8h + 2k + 1
        const __m256i q = _mm256_and_si256(_mm256_srli_epi16(bits, 2 * k), m3);
        const __m256i p = _mm256_maddubs_epi16(q, load(y.qs + 128 * h + 32 * k));
        sumi = _mm256_add_epi32(sumi, _mm256_madd_epi16(_mm256_shuffle_epi8(sc_half[h], word_bcast(2 * k, 2 * k + 1)), p));
      }
    }
    acc = _mm256_fmadd_ps(_mm256_set1_ps(d), _mm256_cvtepi32_ps(sumi), acc);
    acc = _mm256_fmadd_ps(_mm256_set1_ps(neg_dmin), _mm256_cvtepi32_ps(summs), acc);
  }
  return hsum(acc);
}

float dot_q3_K_q8_K__avx2(int64_t n, const void* vw, const void* va) {
  const auto* wrow = static_cast<const uint8_t*>(vw);
  const auto* arow = static_cast<const uint8_t*>(va);
  using Block = BlockQ3K;
  const __m256i m3 = _mm256_set1_epi8(3);
  const __m256i m4 = _mm256_set1_epi8(4);
  __m256 acc = _mm256_setzero_ps();
  for (int64_t i = 0; i < n / kQKK; ++i) {
    const uint8_t* x = wrow + i * sizeof(Block);
    const Q8 y(arow + i * sizeof(BlockQ8K));
    const float d = y.d * f16_at(x + offsetof(Block, d));
    const __m256i sc = _mm256_cvtepi8_epi16(q3_scales(x + offsetof(Block, scales)));
    // Codes are read as q = low2 | high << 2 in 0..7; the value q - 4 takes its -4 via bsums.
    const __m256i offset = _mm256_madd_epi16(sc, load(y.bsums));
    __m256i sumi = _mm256_sub_epi32(_mm256_setzero_si256(), _mm256_slli_epi32(offset, 2));
    const __m256i sc_half[2] = {_mm256_permute2x128_si256(sc, sc, 0x00), _mm256_permute2x128_si256(sc, sc, 0x11)};
    const __m256i hbits = load(x + offsetof(Block, hmask));
#pragma GCC unroll 2
    for (int h = 0; h < 2; ++h) {
      const __m256i bits = load(x + offsetof(Block, qs) + 32 * h);
#pragma GCC unroll 4
      for (int k = 0; k < 4; ++k) {  // elements 32j + l, j = 4h + k: hmask bit j
        const __m256i lo = _mm256_and_si256(_mm256_srli_epi16(bits, 2 * k), m3);
        const __m256i hi = _mm256_and_si256(move_bit(hbits, 4 * h + k, 2), m4);
        const __m256i p = _mm256_maddubs_epi16(_mm256_or_si256(lo, hi), load(y.qs + 128 * h + 32 * k));
        sumi = _mm256_add_epi32(sumi, _mm256_madd_epi16(_mm256_shuffle_epi8(sc_half[h], word_bcast(2 * k, 2 * k + 1)), p));
      }
    }
    acc = _mm256_fmadd_ps(_mm256_set1_ps(d), _mm256_cvtepi32_ps(sumi), acc);
  }
  return hsum(acc);
}

namespace {

// Q4_K and Q5_K differ only in Q5_K's fifth bit (qh).
template <class Block>
float dot_k4_avx2(int64_t n, const void* vw, const void* va) {
  constexpr bool kFifthBit = std::is_same_v<Block, BlockQ5K>;
  const auto* wrow = static_cast<const uint8_t*>(vw);
  const auto* arow = static_cast<const uint8_t*>(va);
  const __m256i m4 = _mm256_set1_epi8(0xF);
  const __m256i m16 = _mm256_set1_epi8(16);
  __m256 acc = _mm256_setzero_ps();
  __m128 acc_m = _mm_setzero_ps();
  for (int64_t i = 0; i < n / kQKK; ++i) {
    const uint8_t* x = wrow + i * sizeof(Block);
    const Q8 y(arow + i * sizeof(BlockQ8K));
    static_assert(offsetof(Block, dmin) == offsetof(Block, d) + 2);
    const __m128 dm = _mm_mul_ps(f16x2_at(x + offsetof(Block, d)), _mm_set1_ps(y.d));  // d_w d_a, dmin_w d_a
    const float d = _mm_cvtss_f32(dm);
    const float neg_dmin = -_mm_cvtss_f32(_mm_movehdup_ps(dm));
    const __m256i sm = k4_scales_mins(x + offsetof(Block, scales));
    // Sums of q8 over each 32-element sub-block, times the mins.
    const __m256i bs = load(y.bsums);
    const __m128i q8sub = _mm_hadd_epi16(_mm256_castsi256_si128(bs), _mm256_extracti128_si256(bs, 1));
    const __m128i summs = _mm_madd_epi16(_mm256_extracti128_si256(sm, 1), q8sub);
    acc_m = _mm_fmadd_ps(_mm_set1_ps(neg_dmin), _mm_cvtepi32_ps(summs), acc_m);
    const __m256i sc = _mm256_permute2x128_si256(sm, sm, 0x00);
    __m256i hbits = _mm256_setzero_si256();
    if constexpr (kFifthBit) hbits = load(x + offsetof(Block, qh));
    __m256i sumi = _mm256_setzero_si256();
#pragma GCC unroll 4
    for (int j = 0; j < 4; ++j) {  // 64 elements: sub-blocks 2j (low nibbles), 2j + 1 (high)
      const __m256i bits = load(x + offsetof(Block, qs) + 32 * j);
      __m256i lo = _mm256_and_si256(bits, m4);
      __m256i hi = _mm256_and_si256(_mm256_srli_epi16(bits, 4), m4);
      if constexpr (kFifthBit) {  // element 32k + l: bit k of qh[l]
        lo = _mm256_or_si256(lo, _mm256_and_si256(move_bit(hbits, 2 * j, 4), m16));
        hi = _mm256_or_si256(hi, _mm256_and_si256(move_bit(hbits, 2 * j + 1, 4), m16));
      }
      const __m256i plo = _mm256_maddubs_epi16(lo, load(y.qs + 64 * j));
      const __m256i phi = _mm256_maddubs_epi16(hi, load(y.qs + 64 * j + 32));
      const __m256i slo = _mm256_madd_epi16(_mm256_shuffle_epi8(sc, word_bcast(2 * j, 2 * j)), plo);
      const __m256i shi = _mm256_madd_epi16(_mm256_shuffle_epi8(sc, word_bcast(2 * j + 1, 2 * j + 1)), phi);
      sumi = _mm256_add_epi32(sumi, _mm256_add_epi32(slo, shi));
    }
    acc = _mm256_fmadd_ps(_mm256_set1_ps(d), _mm256_cvtepi32_ps(sumi), acc);
  }
  return hsum(acc) + hsum(acc_m);
}

}  // namespace

float dot_q4_K_q8_K__avx2(int64_t n, const void* vw, const void* va) { return dot_k4_avx2<BlockQ4K>(n, vw, va); }
float dot_q5_K_q8_K__avx2(int64_t n, const void* vw, const void* va) { return dot_k4_avx2<BlockQ5K>(n, vw, va); }

float dot_q6_K_q8_K__avx2(int64_t n, const void* vw, const void* va) {
  const auto* wrow = static_cast<const uint8_t*>(vw);
  const auto* arow = static_cast<const uint8_t*>(va);
  using Block = BlockQ6K;
  const __m256i m4 = _mm256_set1_epi8(0xF);
  const __m256i m30 = _mm256_set1_epi8(0x30);
  __m256 acc = _mm256_setzero_ps();
  for (int64_t i = 0; i < n / kQKK; ++i) {
    const uint8_t* x = wrow + i * sizeof(Block);
    const Q8 y(arow + i * sizeof(BlockQ8K));
    const float d = y.d * f16_at(x + offsetof(Block, d));
    const __m256i sc = _mm256_cvtepi8_epi16(load128(x + offsetof(Block, scales)));
    // Codes 0..63 multiply q8 directly; the -32 comes off as 32 * sum(sc * bsum).
    const __m256i offset = _mm256_madd_epi16(sc, load(y.bsums));
    __m256i sumi = _mm256_sub_epi32(_mm256_setzero_si256(), _mm256_slli_epi32(offset, 5));
    const __m256i sc_half[2] = {_mm256_permute2x128_si256(sc, sc, 0x00), _mm256_permute2x128_si256(sc, sc, 0x11)};
#pragma GCC unroll 2
    for (int h = 0; h < 2; ++h) {
      const __m256i ql0 = load(x + offsetof(Block, ql) + 64 * h);
      const __m256i ql1 = load(x + offsetof(Block, ql) + 64 * h + 32);
      const __m256i qh = load(x + offsetof(Block, qh) + 32 * h);
      const __m256i q[4] = {
          _mm256_or_si256(_mm256_and_si256(ql0, m4), _mm256_and_si256(_mm256_slli_epi16(qh, 4), m30)),
          _mm256_or_si256(_mm256_and_si256(ql1, m4), _mm256_and_si256(_mm256_slli_epi16(qh, 2), m30)),
          _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(ql0, 4), m4), _mm256_and_si256(qh, m30)),
          _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(ql1, 4), m4), _mm256_and_si256(_mm256_srli_epi16(qh, 2), m30)),
      };
#pragma GCC unroll 4
      for (int k = 0; k < 4; ++k) {  // elements 128h + 32k + l: sub-blocks 8h + 2k, 8h + 2k + 1
        const __m256i p = _mm256_maddubs_epi16(q[k], load(y.qs + 128 * h + 32 * k));
        sumi = _mm256_add_epi32(sumi, _mm256_madd_epi16(_mm256_shuffle_epi8(sc_half[h], word_bcast(2 * k, 2 * k + 1)), p));
      }
    }
    acc = _mm256_fmadd_ps(_mm256_set1_ps(d), _mm256_cvtepi32_ps(sumi), acc);
  }
  return hsum(acc);
}

float dot_iq4_xs_q8_K__avx2(int64_t n, const void* vw, const void* va) {
  const auto* wrow = static_cast<const uint8_t*>(vw);
  const auto* arow = static_cast<const uint8_t*>(va);
  using Block = BlockIq4Xs;
  const __m256i m4 = _mm256_set1_epi8(0xF);
  const __m256i values = _mm256_broadcastsi128_si256(load128(kIq4nlValues));
  __m256 acc = _mm256_setzero_ps();
  for (int64_t i = 0; i < n / kQKK; ++i) {
    const uint8_t* x = wrow + i * sizeof(Block);
    const Q8 y(arow + i * sizeof(BlockQ8K));
    const float d = y.d * f16_at(x + offsetof(Block, d));
    const __m256i sc = _mm256_broadcastsi128_si256(iq4xs_scales(x));
    __m256i sumi = _mm256_setzero_si256();
#pragma GCC unroll 4
    for (int t = 0; t < 4; ++t) {  // sub-blocks 2t, 2t + 1: 32 bytes, one sub-block per lane
      const __m256i bits = load(x + offsetof(Block, qs) + 32 * t);
      // Low nibbles are elements 0..15 of each lane's sub-block, high nibbles 16..31; the q8
      // are regrouped to match, so one scale vector serves both.
      const __m256i vlo = _mm256_shuffle_epi8(values, _mm256_and_si256(bits, m4));
      const __m256i vhi = _mm256_shuffle_epi8(values, _mm256_and_si256(_mm256_srli_epi16(bits, 4), m4));
      const __m256i y0 = load(y.qs + 64 * t);       // sub-block 2t
      const __m256i y1 = load(y.qs + 64 * t + 32);  // sub-block 2t + 1
      const __m256i ylo = _mm256_permute2x128_si256(y0, y1, 0x20);
      const __m256i yhi = _mm256_permute2x128_si256(y0, y1, 0x31);
      // Signed * signed through vpmaddubsw: |v| * (q8 with v's sign); |v|, |q8| <= 127.
      const __m256i plo = _mm256_maddubs_epi16(_mm256_sign_epi8(vlo, vlo), _mm256_sign_epi8(ylo, vlo));
      const __m256i phi = _mm256_maddubs_epi16(_mm256_sign_epi8(vhi, vhi), _mm256_sign_epi8(yhi, vhi));
      const __m256i s = _mm256_shuffle_epi8(sc, word_bcast(2 * t, 2 * t + 1));
      sumi = _mm256_add_epi32(sumi, _mm256_add_epi32(_mm256_madd_epi16(s, plo), _mm256_madd_epi16(s, phi)));
    }
    acc = _mm256_fmadd_ps(_mm256_set1_ps(d), _mm256_cvtepi32_ps(sumi), acc);
  }
  return hsum(acc);
}

float dot_tq1_0_q8_K__avx2(int64_t n, const void* vw, const void* va) {
  const auto* wrow = static_cast<const uint8_t*>(vw);
  const auto* arow = static_cast<const uint8_t*>(va);
  using Block = BlockTq1_0;
  const __m256i ones = _mm256_set1_epi16(1);
  __m256 acc = _mm256_setzero_ps();
  for (int64_t i = 0; i < n / kQKK; ++i) {
    const uint8_t* x = wrow + i * sizeof(Block);
    const Q8 y(arow + i * sizeof(BlockQ8K));
    const float d = y.d * f16_at(x + offsetof(Block, d));
    // Digit n of byte b is the top trit of b * 3^n (mod 256); group the products by the
    // elements they hold so each vector pairs with 32 consecutive q8.
    const __m256i b = load(x + offsetof(Block, qs));                // digit n of byte m: element 32n + m
    const __m256i b3 = mul3(b), b9 = mul9(b);
    const __m128i z = load128(x + offsetof(Block, qs) + 32);        // digit n of byte m: element 160 + 16n + m
    const __m128i z3 = mul3(z), z9 = mul9(z);
    uint32_t qh;
    std::memcpy(&qh, x + offsetof(Block, qh), 4);                   // digit n of byte j: element 240 + 4n + j
    const __m128i h = _mm_set1_epi32(static_cast<int>(qh));
    const __m128i h3 = mul3(h), h9 = mul9(h), h27 = mul9(h3);
    const __m128i hh = _mm_blend_epi32(_mm_blend_epi32(h, h3, 0x2), _mm_blend_epi32(h9, h27, 0x8), 0xC);
    const __m256i v[8] = {b, b3, b9, mul9(b3), mul9(b9),
                          _mm256_set_m128i(z3, z), _mm256_set_m128i(mul9(z3), z9), _mm256_set_m128i(hh, mul9(z9))};
    __m256i sum16 = _mm256_sub_epi16(_mm256_setzero_si256(), load(y.bsums));  // the -1 of t = digit - 1
#pragma GCC unroll 8
    for (int k = 0; k < 8; ++k)  // i16 lanes stay below 8 * 2 * 2 * 127 + 2032
      sum16 = _mm256_add_epi16(sum16, _mm256_maddubs_epi16(tq1_digits(v[k]), load(y.qs + 32 * k)));
    acc = _mm256_fmadd_ps(_mm256_set1_ps(d), _mm256_cvtepi32_ps(_mm256_madd_epi16(sum16, ones)), acc);
  }
  return hsum(acc);
}

float dot_tq2_0_q8_K__avx2(int64_t n, const void* vw, const void* va) {
  const auto* wrow = static_cast<const uint8_t*>(vw);
  const auto* arow = static_cast<const uint8_t*>(va);
  using Block = BlockTq2_0;
  const __m256i m3 = _mm256_set1_epi8(3);
  const __m256i ones = _mm256_set1_epi16(1);
  __m256 acc = _mm256_setzero_ps();
  for (int64_t i = 0; i < n / kQKK; ++i) {
    const uint8_t* x = wrow + i * sizeof(Block);
    const Q8 y(arow + i * sizeof(BlockQ8K));
    const float d = y.d * f16_at(x + offsetof(Block, d));
    __m256i sum16 = _mm256_sub_epi16(_mm256_setzero_si256(), load(y.bsums));  // the -1 offset
#pragma GCC unroll 2
    for (int c = 0; c < 2; ++c) {
      const __m256i bits = load(x + offsetof(Block, qs) + 32 * c);
#pragma GCC unroll 4
      for (int k = 0; k < 4; ++k) {  // elements 128c + 32k + m; codes 0..3 (3 is not written, still read as +2)
        const __m256i q = _mm256_and_si256(_mm256_srli_epi16(bits, 2 * k), m3);
        sum16 = _mm256_add_epi16(sum16, _mm256_maddubs_epi16(q, load(y.qs + 128 * c + 32 * k)));
      }
    }
    acc = _mm256_fmadd_ps(_mm256_set1_ps(d), _mm256_cvtepi32_ps(_mm256_madd_epi16(sum16, ones)), acc);
  }
  return hsum(acc);
}

}  // namespace lowbit
