// AVX-512 (F, BW, VL, DQ, VNNI) dot products of the K-quant family against Q8_K (references:
// qdot_ref_kquants.cc; the AVX2 file explains the shared shape).
//
// What AVX-512 changes: vpdpwssd folds "multiply by the sub-block scales and add" into one
// instruction, vpdpbusd replaces vpmaddubsw + vpmaddwd where there is no per-lane scale
// (TQ1_0, TQ2_0). In 512 bits one vector covers 64 elements = four 16-element sub-blocks (one
// per 128-bit lane), so the scales are broadcast per lane with vpshufb from a register holding
// eight i16 scales in every lane. Codes are lined up with 64 consecutive q8 bytes (one plain
// load) by broadcasting 32 code bytes to both halves and shifting the halves differently
// (vpsrlvw, masked shifts, vptestmb); IQ4_XS instead regroups the q8 (vshufi64x2) so that one
// scale vector serves both nibbles.
//
// Q2_K, Q4_K and Q5_K stay 256-bit (the AVX2 shape plus vpdpwssd): their 32-byte code planes
// already pair with plain q8 loads, and their 512-bit forms measured slower on the AMD Zen 4
// used for tuning (it splits 512-bit operations in two, so only the instruction count can
// shrink, and the broadcasts and per-half shifts add instructions back).
//
// Compiled with -mavx512f -mavx512bw -mavx512vl -mavx512dq -mavx512vnni (and AVX2/FMA/F16C).
// Like the AVX2 file it calls no inline function of a shared header.
//
// GCC 12's avx512fintrin.h makes its "undefined" source vectors as `__m512i __Y = __Y;`, which
// -W(maybe-)uninitialized reports wherever a broadcast or insert intrinsic is inlined. Spurious;
// silenced before the header so the header's locations are covered.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif
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
  return _cvtsh_ss(h);
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

inline __m128i load128(const void* p) { return _mm_loadu_si128(static_cast<const __m128i*>(p)); }
inline __m256i load256(const void* p) { return _mm256_loadu_si256(static_cast<const __m256i*>(p)); }
inline __m512i load512(const void* p) { return _mm512_loadu_si512(p); }
// 32 bytes in both halves.
inline __m512i bcast256(const void* p) { return _mm512_broadcast_i64x4(load256(p)); }
// 64 weight bytes as two 32-byte loads. Weight blocks are not 64-byte aligned, so a 64-byte
// load nearly always spans two cache lines; on weights streamed from memory such loads cost
// more than the extra insert (measured on Zen 4: IQ4_XS matvec 11.7 -> 15.5 GB/s). Q8_K rows
// stay in L1 and use plain 64-byte loads.
inline __m512i load2x256(const uint8_t* p) {
  return _mm512_inserti64x4(_mm512_castsi256_si512(load256(p)), load256(p + 32), 1);
}

inline float hsum(__m128 h) {
  h = _mm_add_ps(h, _mm_movehl_ps(h, h));
  h = _mm_add_ss(h, _mm_movehdup_ps(h));
  return _mm_cvtss_f32(h);
}
inline float hsum(__m256 v) { return hsum(_mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1))); }

inline long long word_rep(int w) {
  return static_cast<long long>(0x0001000100010001ull * static_cast<uint64_t>((2 * w + 1) << 8 | 2 * w));
}
// vpshufb control filling 128-bit lane L with i16 word w_L of that lane.
inline __m512i word_bcast(int w0, int w1, int w2, int w3) {
  return _mm512_set_epi64(word_rep(w3), word_rep(w3), word_rep(w2), word_rep(w2), word_rep(w1), word_rep(w1),
                          word_rep(w0), word_rep(w0));
}
// Per-i16 shift counts: lo in the lower 256 bits, hi in the upper.
inline __m512i halves16(int lo, int hi) {
  return _mm512_inserti64x4(_mm512_set1_epi16(static_cast<short>(lo)), _mm256_set1_epi16(static_cast<short>(hi)), 1);
}
// Byte masks: bit `lo` in the lower 256 bits, bit `hi` in the upper.
inline __m512i bit_halves(int lo, int hi) {
  return _mm512_inserti64x4(_mm512_set1_epi8(static_cast<char>(1 << lo)), _mm256_set1_epi8(static_cast<char>(1 << hi)), 1);
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

// Q4_K / Q5_K's eight 6-bit (scale, min) pairs as 16 i16 words: scales 0..7, then mins 0..7.
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

// |kIq4nlValues|: the grid's magnitudes; the sign is bit 3 of the index (values 0..7 < 0).
struct Iq4Abs {
  int8_t v[16];
  constexpr Iq4Abs() : v{} {
    for (int i = 0; i < 16; ++i) v[i] = static_cast<int8_t>(kIq4nlValues[i] < 0 ? -kIq4nlValues[i] : kIq4nlValues[i]);
  }
};
constexpr Iq4Abs kIq4Abs;

inline __m128i mul3(__m128i v) { return _mm_add_epi8(v, _mm_add_epi8(v, v)); }
inline __m128i mul9(__m128i v) {
  return _mm_add_epi8(_mm_and_si128(_mm_slli_epi16(v, 3), _mm_set1_epi8(static_cast<char>(0xF8))), v);
}
inline __m256i mul3(__m256i v) { return _mm256_add_epi8(v, _mm256_add_epi8(v, v)); }
inline __m256i mul9(__m256i v) {
  return _mm256_add_epi8(_mm256_and_si256(_mm256_slli_epi16(v, 3), _mm256_set1_epi8(static_cast<char>(0xF8))), v);
}

// TQ1_0 digit of a byte already multiplied by 3^n: (q * 3) >> 8 = [q >= 86] + [q >= 171].
inline __m512i tq1_digits(__m512i q) {
  const __m512i one = _mm512_set1_epi8(1);
  const __m512i d = _mm512_maskz_mov_epi8(_mm512_cmpge_epu8_mask(q, _mm512_set1_epi8(86)), one);
  return _mm512_mask_add_epi8(d, _mm512_cmpge_epu8_mask(q, _mm512_set1_epi8(static_cast<char>(171))), d, one);
}

inline __m512i zext(__m256i v) { return _mm512_zextsi256_si512(v); }

// 256-bit helpers (for the kernels where 256-bit VNNI beats 512-bit: see there).
inline __m256i word_bcast2(int w0, int w1) {
  return _mm256_set_epi64x(word_rep(w1), word_rep(w1), word_rep(w0), word_rep(w0));
}
inline __m256i move_bit(__m256i v, int from, int to) {
  return from >= to ? _mm256_srli_epi16(v, from - to) : _mm256_slli_epi16(v, to - from);
}
// Two adjacent f16 fields (d, dmin) as floats 0 and 1.
inline __m128 f16x2_at(const uint8_t* p) {
  uint32_t u;
  std::memcpy(&u, p, 4);
  return _mm_cvtph_ps(_mm_cvtsi32_si128(static_cast<int>(u)));
}

}  // namespace

// Q2_K in 256 bits (see the top of the file): a 2-bit plane of 32 bytes is 32 consecutive
// elements, so it pairs with one plain q8 load.
float dot_q2_K_q8_K__avx512(int64_t n, const void* vw, const void* va) {
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
    const __m128i packed = load128(x + offsetof(Block, scales));
    const __m256i sc = _mm256_cvtepu8_epi16(_mm_and_si128(packed, m4));
    const __m256i mn = _mm256_cvtepu8_epi16(_mm_and_si128(_mm_srli_epi16(packed, 4), m4));
    const __m256i summs = _mm256_madd_epi16(mn, load256(y.bsums));
    const __m256i sc_half[2] = {_mm256_permute2x128_si256(sc, sc, 0x00), _mm256_permute2x128_si256(sc, sc, 0x11)};
    __m256i sumi = _mm256_setzero_si256();
#pragma GCC unroll 2
    for (int h = 0; h < 2; ++h) {
      const __m256i bits = load256(x + offsetof(Block, qs) + 32 * h);
#pragma GCC unroll 4
      for (int k = 0; k < 4; ++k) {  // elements 128h + 32k + l: sub-blocks 8h + 2k, 8h + 2k + 1
        const __m256i q = _mm256_and_si256(_mm256_srli_epi16(bits, 2 * k), m3);
        const __m256i p = _mm256_maddubs_epi16(q, load256(y.qs + 128 * h + 32 * k));
        sumi = _mm256_dpwssd_epi32(sumi, p, _mm256_shuffle_epi8(sc_half[h], word_bcast2(2 * k, 2 * k + 1)));
      }
    }
    acc = _mm256_fmadd_ps(_mm256_broadcastss_ps(dm), _mm256_cvtepi32_ps(sumi), acc);
    acc = _mm256_fnmadd_ps(_mm256_broadcastss_ps(_mm_movehdup_ps(dm)), _mm256_cvtepi32_ps(summs), acc);
  }
  return hsum(acc);
}

float dot_q3_K_q8_K__avx512(int64_t n, const void* vw, const void* va) {
  const auto* wrow = static_cast<const uint8_t*>(vw);
  const auto* arow = static_cast<const uint8_t*>(va);
  using Block = BlockQ3K;
  const __m512i m3 = _mm512_set1_epi8(3);
  const __m512i four = _mm512_set1_epi8(4);
  __m512 acc = _mm512_setzero_ps();
  for (int64_t i = 0; i < n / kQKK; ++i) {
    const uint8_t* x = wrow + i * sizeof(Block);
    const Q8 y(arow + i * sizeof(BlockQ8K));
    const float d = y.d * f16_at(x + offsetof(Block, d));
    const __m256i sc = _mm256_cvtepi8_epi16(q3_scales(x + offsetof(Block, scales)));
    // Codes read as q = low2 | high << 2 in 0..7; the -4 comes off as 4 * sum(sc * bsum).
    const __m256i offset = _mm256_madd_epi16(sc, load256(y.bsums));
    __m512i sumi = zext(_mm256_sub_epi32(_mm256_setzero_si256(), _mm256_slli_epi32(offset, 2)));
    const __m512i sc_half[2] = {_mm512_broadcast_i32x4(_mm256_castsi256_si128(sc)),
                                _mm512_broadcast_i32x4(_mm256_extracti128_si256(sc, 1))};
    const __m512i hbits = bcast256(x + offsetof(Block, hmask));
#pragma GCC unroll 2
    for (int h = 0; h < 2; ++h) {
      const __m512i bits = bcast256(x + offsetof(Block, qs) + 32 * h);
#pragma GCC unroll 2
      for (int p = 0; p < 2; ++p) {  // elements 32j + l, j = 4h + 2p (lower half) and j + 1 (upper)
        const int j = 4 * h + 2 * p;
        __m512i q = _mm512_and_si512(_mm512_srlv_epi16(bits, halves16(4 * p, 4 * p + 2)), m3);
        q = _mm512_mask_add_epi8(q, _mm512_test_epi8_mask(hbits, bit_halves(j, j + 1)), q, four);
        const __m512i prod = _mm512_maddubs_epi16(q, load512(y.qs + 128 * h + 64 * p));
        const __m512i s = _mm512_shuffle_epi8(sc_half[h], word_bcast(4 * p, 4 * p + 1, 4 * p + 2, 4 * p + 3));
        sumi = _mm512_dpwssd_epi32(sumi, prod, s);
      }
    }
    acc = _mm512_fmadd_ps(_mm512_set1_ps(d), _mm512_cvtepi32_ps(sumi), acc);
  }
  return _mm512_reduce_add_ps(acc);
}

namespace {

// Q4_K and Q5_K differ only in Q5_K's fifth bit (qh). 256-bit (see the top of the file): each
// vpmaddubsw result is one 32-element sub-block, so one broadcast scale serves the vector.
template <class Block>
float dot_k4_avx512(int64_t n, const void* vw, const void* va) {
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
    const __m256i sm = k4_scales_mins(x + offsetof(Block, scales));
    const __m256i bs = load256(y.bsums);
    const __m128i q8sub = _mm_hadd_epi16(_mm256_castsi256_si128(bs), _mm256_extracti128_si256(bs, 1));
    const __m128i summs = _mm_madd_epi16(_mm256_extracti128_si256(sm, 1), q8sub);
    acc_m = _mm_fnmadd_ps(_mm_shuffle_ps(dm, dm, 0x55), _mm_cvtepi32_ps(summs), acc_m);
    const __m256i sc = _mm256_permute2x128_si256(sm, sm, 0x00);
    __m256i hbits = _mm256_setzero_si256();
    if constexpr (kFifthBit) hbits = load256(x + offsetof(Block, qh));
    __m256i sumi = _mm256_setzero_si256();
#pragma GCC unroll 4
    for (int j = 0; j < 4; ++j) {  // 64 elements: sub-blocks 2j (low nibbles), 2j + 1 (high)
      const __m256i bits = load256(x + offsetof(Block, qs) + 32 * j);
      __m256i lo = _mm256_and_si256(bits, m4);
      __m256i hi = _mm256_and_si256(_mm256_srli_epi16(bits, 4), m4);
      if constexpr (kFifthBit) {  // element 32k + l: bit k of qh[l]
        lo = _mm256_or_si256(lo, _mm256_and_si256(move_bit(hbits, 2 * j, 4), m16));
        hi = _mm256_or_si256(hi, _mm256_and_si256(move_bit(hbits, 2 * j + 1, 4), m16));
      }
      const __m256i plo = _mm256_maddubs_epi16(lo, load256(y.qs + 64 * j));
      const __m256i phi = _mm256_maddubs_epi16(hi, load256(y.qs + 64 * j + 32));
      sumi = _mm256_dpwssd_epi32(sumi, plo, _mm256_shuffle_epi8(sc, word_bcast2(2 * j, 2 * j)));
      sumi = _mm256_dpwssd_epi32(sumi, phi, _mm256_shuffle_epi8(sc, word_bcast2(2 * j + 1, 2 * j + 1)));
    }
    acc = _mm256_fmadd_ps(_mm256_broadcastss_ps(dm), _mm256_cvtepi32_ps(sumi), acc);
  }
  return hsum(acc) + hsum(acc_m);
}

}  // namespace

float dot_q4_K_q8_K__avx512(int64_t n, const void* vw, const void* va) { return dot_k4_avx512<BlockQ4K>(n, vw, va); }
float dot_q5_K_q8_K__avx512(int64_t n, const void* vw, const void* va) { return dot_k4_avx512<BlockQ5K>(n, vw, va); }

float dot_q6_K_q8_K__avx512(int64_t n, const void* vw, const void* va) {
  const auto* wrow = static_cast<const uint8_t*>(vw);
  const auto* arow = static_cast<const uint8_t*>(va);
  using Block = BlockQ6K;
  const __m512i m0f = _mm512_set1_epi8(0x0F);
  const __m512i mcf = _mm512_set1_epi8(static_cast<char>(0xCF));  // ~0x30
  constexpr int kOrAndNot = 0xF4;                                   // A | (B & ~C)
  __m512 acc = _mm512_setzero_ps();
  for (int64_t i = 0; i < n / kQKK; ++i) {
    const uint8_t* x = wrow + i * sizeof(Block);
    const Q8 y(arow + i * sizeof(BlockQ8K));
    const float d = y.d * f16_at(x + offsetof(Block, d));
    const __m256i sc = _mm256_cvtepi8_epi16(load128(x + offsetof(Block, scales)));
    // Codes 0..63 multiply q8 directly; the -32 comes off as 32 * sum(sc * bsum).
    const __m256i offset = _mm256_madd_epi16(sc, load256(y.bsums));
    __m512i sumi = zext(_mm256_sub_epi32(_mm256_setzero_si256(), _mm256_slli_epi32(offset, 5)));
    const __m512i sc_half[2] = {_mm512_broadcast_i32x4(_mm256_castsi256_si128(sc)),
                                _mm512_broadcast_i32x4(_mm256_extracti128_si256(sc, 1))};
#pragma GCC unroll 2
    for (int h = 0; h < 2; ++h) {
      const __m512i ql = load2x256(x + offsetof(Block, ql) + 64 * h);  // low nibbles: elements 128h + 0..63, high: + 64..127
      const __m512i qh = bcast256(x + offsetof(Block, qh) + 32 * h);  // bit pairs 0, 1 | 2, 3 (lo) and 4, 5 | 6, 7 (hi)
      const __m512i lo = _mm512_ternarylogic_epi32(_mm512_and_si512(ql, m0f), _mm512_sllv_epi16(qh, halves16(4, 2)),
                                                   mcf, kOrAndNot);
      const __m512i hi = _mm512_ternarylogic_epi32(_mm512_and_si512(_mm512_srli_epi16(ql, 4), m0f),
                                                   _mm512_srlv_epi16(qh, halves16(0, 2)), mcf, kOrAndNot);
      const __m512i plo = _mm512_maddubs_epi16(lo, load512(y.qs + 128 * h));
      const __m512i phi = _mm512_maddubs_epi16(hi, load512(y.qs + 128 * h + 64));
      sumi = _mm512_dpwssd_epi32(sumi, plo, _mm512_shuffle_epi8(sc_half[h], word_bcast(0, 1, 2, 3)));
      sumi = _mm512_dpwssd_epi32(sumi, phi, _mm512_shuffle_epi8(sc_half[h], word_bcast(4, 5, 6, 7)));
    }
    acc = _mm512_fmadd_ps(_mm512_set1_ps(d), _mm512_cvtepi32_ps(sumi), acc);
  }
  return _mm512_reduce_add_ps(acc);
}

float dot_iq4_xs_q8_K__avx512(int64_t n, const void* vw, const void* va) {
  const auto* wrow = static_cast<const uint8_t*>(vw);
  const auto* arow = static_cast<const uint8_t*>(va);
  using Block = BlockIq4Xs;
  const __m512i m0f = _mm512_set1_epi8(0x0F);
  const __m512i m8 = _mm512_set1_epi8(8);
  const __m512i magnitudes = _mm512_broadcast_i32x4(load128(kIq4Abs.v));
  __m512 acc = _mm512_setzero_ps();
  for (int64_t i = 0; i < n / kQKK; ++i) {
    const uint8_t* x = wrow + i * sizeof(Block);
    const Q8 y(arow + i * sizeof(BlockQ8K));
    const float d = y.d * f16_at(x + offsetof(Block, d));
    const __m512i sc = _mm512_broadcast_i32x4(iq4xs_scales(x));
    __m512i sumi = _mm512_setzero_si512();
#pragma GCC unroll 2
    for (int u = 0; u < 2; ++u) {  // sub-blocks 4u..4u+3: 64 bytes, one sub-block per 128-bit lane
      const __m512i bits = load2x256(x + offsetof(Block, qs) + 64 * u);
      // Low nibbles are elements 0..15 of each lane's sub-block, high nibbles 16..31; the q8
      // are regrouped to match, so one scale vector serves both.
      const __m512i ilo = _mm512_and_si512(bits, m0f);
      const __m512i ihi = _mm512_and_si512(_mm512_srli_epi16(bits, 4), m0f);
      const __m512i y0 = load512(y.qs + 128 * u);       // sub-blocks 4u, 4u + 1
      const __m512i y1 = load512(y.qs + 128 * u + 64);  // sub-blocks 4u + 2, 4u + 3
      const __m512i ylo = _mm512_shuffle_i64x2(y0, y1, 0x88);  // 16-byte lanes y0.0 y0.2 y1.0 y1.2
      const __m512i yhi = _mm512_shuffle_i64x2(y0, y1, 0xDD);  // y0.1 y0.3 y1.1 y1.3
      // Signed * signed as |v| * (q8 negated where v < 0); |v|, |q8| <= 127: no saturation.
      const __m512i slo = _mm512_mask_sub_epi8(ylo, _mm512_testn_epi8_mask(ilo, m8), _mm512_setzero_si512(), ylo);
      const __m512i shi = _mm512_mask_sub_epi8(yhi, _mm512_testn_epi8_mask(ihi, m8), _mm512_setzero_si512(), yhi);
      const __m512i plo = _mm512_maddubs_epi16(_mm512_shuffle_epi8(magnitudes, ilo), slo);
      const __m512i phi = _mm512_maddubs_epi16(_mm512_shuffle_epi8(magnitudes, ihi), shi);
      const __m512i s = _mm512_shuffle_epi8(sc, word_bcast(4 * u, 4 * u + 1, 4 * u + 2, 4 * u + 3));
      sumi = _mm512_dpwssd_epi32(_mm512_dpwssd_epi32(sumi, plo, s), phi, s);
    }
    acc = _mm512_fmadd_ps(_mm512_set1_ps(d), _mm512_cvtepi32_ps(sumi), acc);
  }
  return _mm512_reduce_add_ps(acc);
}

float dot_tq1_0_q8_K__avx512(int64_t n, const void* vw, const void* va) {
  const auto* wrow = static_cast<const uint8_t*>(vw);
  const auto* arow = static_cast<const uint8_t*>(va);
  using Block = BlockTq1_0;
  const __m256i ones16 = _mm256_set1_epi16(1);
  __m512 acc = _mm512_setzero_ps();
  for (int64_t i = 0; i < n / kQKK; ++i) {
    const uint8_t* x = wrow + i * sizeof(Block);
    const Q8 y(arow + i * sizeof(BlockQ8K));
    const float d = y.d * f16_at(x + offsetof(Block, d));
    // Bytes times 3^n (mod 256), grouped so each vector pairs with 64 consecutive q8.
    const __m256i b = load256(x + offsetof(Block, qs));         // digit n of byte m: element 32n + m
    const __m256i b3 = mul3(b), b9 = mul9(b);
    const __m128i z = load128(x + offsetof(Block, qs) + 32);    // digit n of byte m: element 160 + 16n + m
    const __m128i z3 = mul3(z), z9 = mul9(z);
    uint32_t qh;
    std::memcpy(&qh, x + offsetof(Block, qh), 4);               // digit n of byte j: element 240 + 4n + j
    const __m128i h = _mm_set1_epi32(static_cast<int>(qh));
    const __m128i h3 = mul3(h), h9 = mul9(h), h27 = mul9(h3);
    const __m128i hh = _mm_blend_epi32(_mm_blend_epi32(h, h3, 0x2), _mm_blend_epi32(h9, h27, 0x8), 0xC);
    const __m512i v[4] = {
        _mm512_inserti64x4(_mm512_castsi256_si512(b), b3, 1),
        _mm512_inserti64x4(_mm512_castsi256_si512(b9), mul9(b3), 1),
        _mm512_inserti64x4(_mm512_castsi256_si512(mul9(b9)), _mm256_set_m128i(z3, z), 1),
        _mm512_inserti64x4(_mm512_castsi256_si512(_mm256_set_m128i(mul9(z3), z9)), _mm256_set_m128i(hh, mul9(z9)), 1),
    };
    // The -1 of t = digit - 1: minus the sum of all q8.
    __m512i sumi = zext(_mm256_sub_epi32(_mm256_setzero_si256(), _mm256_madd_epi16(load256(y.bsums), ones16)));
#pragma GCC unroll 4
    for (int k = 0; k < 4; ++k) sumi = _mm512_dpbusd_epi32(sumi, tq1_digits(v[k]), load512(y.qs + 64 * k));
    acc = _mm512_fmadd_ps(_mm512_set1_ps(d), _mm512_cvtepi32_ps(sumi), acc);
  }
  return _mm512_reduce_add_ps(acc);
}

float dot_tq2_0_q8_K__avx512(int64_t n, const void* vw, const void* va) {
  const auto* wrow = static_cast<const uint8_t*>(vw);
  const auto* arow = static_cast<const uint8_t*>(va);
  using Block = BlockTq2_0;
  const __m512i m3 = _mm512_set1_epi8(3);
  const __m256i ones16 = _mm256_set1_epi16(1);
  __m512 acc = _mm512_setzero_ps();
  for (int64_t i = 0; i < n / kQKK; ++i) {
    const uint8_t* x = wrow + i * sizeof(Block);
    const Q8 y(arow + i * sizeof(BlockQ8K));
    const float d = y.d * f16_at(x + offsetof(Block, d));
    __m512i sumi = zext(_mm256_sub_epi32(_mm256_setzero_si256(), _mm256_madd_epi16(load256(y.bsums), ones16)));
#pragma GCC unroll 2
    for (int c = 0; c < 2; ++c) {
      const __m512i bits = bcast256(x + offsetof(Block, qs) + 32 * c);  // bit pair k of byte m: element 128c + 32k + m
      const __m512i q01 = _mm512_and_si512(_mm512_srlv_epi16(bits, halves16(0, 2)), m3);
      const __m512i q23 = _mm512_and_si512(_mm512_srlv_epi16(bits, halves16(4, 6)), m3);
      sumi = _mm512_dpbusd_epi32(sumi, q01, load512(y.qs + 128 * c));
      sumi = _mm512_dpbusd_epi32(sumi, q23, load512(y.qs + 128 * c + 64));
    }
    acc = _mm512_fmadd_ps(_mm512_set1_ps(d), _mm512_cvtepi32_ps(sumi), acc);
  }
  return _mm512_reduce_add_ps(acc);
}

}  // namespace lowbit
