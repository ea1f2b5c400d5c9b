// AVX-512 VNNI group kernel for the interleaved layout (repack.h): 16 rows per 512-bit vector,
// a VNNI lane per row. Per 32-element block of 16 rows: four loads, low/high nibbles by one
// and, one shift and one and each, eight vpdpbusd against broadcast activation quads, and one
// conversion + multiply + fma for all 16 rows' scales. Q4_K adds its 6-bit scales and mins,
// decoded for 16 rows at once from the transposed scale bytes. The reference is
// repack_ref.cc (same integer sums, same float order).

// GCC 12's avx512fintrin.h initialises its "undefined" vectors from themselves (bug 105593).
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#include <immintrin.h>

#include <cstring>

#include "kernels/repack.h"
#include "quant/codecs/blocks.h"

namespace lowbit {
namespace {

inline int32_t rd32(const int8_t* p) { int32_t v; std::memcpy(&v, p, 4); return v; }
inline __m512i ld512(const uint8_t* p) { return _mm512_loadu_si512(p); }
inline __m128i ld128(const uint8_t* p) { return _mm_loadu_si128(reinterpret_cast<const __m128i*>(p)); }
inline __m512 scales16(const uint8_t* p) { return _mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(p))); }

template <bool kNl>
void group_q4(const uint8_t* g, int64_t n, const RepackActs& a, int64_t t, float* y) {
  const int64_t nb = n / 32;
  const int8_t* ac = a.codes.data() + t * n;
  const float* da = a.da.data() + t * nb;
  const int32_t* init = a.sums.data() + t * nb;
  const __m512i m4 = _mm512_set1_epi8(0x0F);
  const __m512i grid = _mm512_broadcast_i32x4(_mm_setr_epi8(
      1, 24, 45, 63, 79, 93, 106, 118, static_cast<char>(129), static_cast<char>(141), static_cast<char>(153),
      static_cast<char>(166), static_cast<char>(181), static_cast<char>(197), static_cast<char>(217), static_cast<char>(241)));
  __m512 acc = _mm512_setzero_ps();
  for (int64_t b = 0; b < nb; ++b, g += kRepackRows * sizeof(BlockQ4_0), ac += 32) {
    __m512i s0 = _mm512_set1_epi32(init[b]), s1 = _mm512_setzero_si512();   // two chains: low, high nibbles
    for (int k = 0; k < 4; ++k) {
      const __m512i z = ld512(g + 32 + 64 * k);
      __m512i lo = _mm512_and_si512(z, m4), hi = _mm512_and_si512(_mm512_srli_epi16(z, 4), m4);
      if constexpr (kNl) {
        lo = _mm512_shuffle_epi8(grid, lo);
        hi = _mm512_shuffle_epi8(grid, hi);
      }
      s0 = _mm512_dpbusd_epi32(s0, lo, _mm512_set1_epi32(rd32(ac + 4 * k)));
      s1 = _mm512_dpbusd_epi32(s1, hi, _mm512_set1_epi32(rd32(ac + 16 + 4 * k)));
    }
    const __m512 p = _mm512_mul_ps(scales16(g), _mm512_set1_ps(da[b]));
    acc = _mm512_fmadd_ps(_mm512_cvtepi32_ps(_mm512_add_epi32(s0, s1)), p, acc);
  }
  _mm512_storeu_ps(y, acc);
}

// get_scale_min_k4 for 16 rows from the transposed scale bytes S[i] (byte i of every row):
// sub-block s's scale and min as sixteen int32 lanes.
inline void q4k_scale_min(const __m128i S[12], int s, __m512i* sc, __m512i* m) {
  const __m128i m6 = _mm_set1_epi8(63), m4 = _mm_set1_epi8(15), m2 = _mm_set1_epi8(3);
  __m128i a, b;
  if (s < 4) {
    a = _mm_and_si128(S[s], m6);
    b = _mm_and_si128(S[s + 4], m6);
  } else {
    const __m128i top_sc = _mm_slli_epi16(_mm_and_si128(_mm_srli_epi16(S[s - 4], 6), m2), 4);
    const __m128i top_m = _mm_slli_epi16(_mm_and_si128(_mm_srli_epi16(S[s], 6), m2), 4);
    a = _mm_or_si128(_mm_and_si128(S[s + 4], m4), top_sc);
    b = _mm_or_si128(_mm_and_si128(_mm_srli_epi16(S[s + 4], 4), m4), top_m);
  }
  *sc = _mm512_cvtepu8_epi32(a);
  *m = _mm512_cvtepu8_epi32(b);
}

// NT tokens (t .. t + NT − 1) against one group: each 64-byte nibble chunk is split once and
// feeds 2·NT vpdpbusd; per pair of sub-blocks one scale step (repack.h: Q4_K).
template <int NT>
void group_q4_k(const uint8_t* g, int64_t n, const RepackActs& a, int64_t t, float* y, int64_t ldy) {
  const int64_t nsb = n / 256;
  const __m512i m4 = _mm512_set1_epi8(0x0F);
  __m512 acc[NT], accm[NT];
  for (int k = 0; k < NT; ++k) acc[k] = accm[k] = _mm512_setzero_ps();
  for (int64_t sb = 0; sb < nsb; ++sb, g += kRepackRows * sizeof(BlockQ4K)) {
    __m128i S[12];
    for (int i = 0; i < 12; ++i) S[i] = ld128(g + 64 + 16 * i);
    const __m512 dw = scales16(g), dmw = scales16(g + 32);
    for (int j = 0; j < 4; ++j) {
      __m512i lo[NT], hi[NT];
      for (int k = 0; k < NT; ++k) lo[k] = hi[k] = _mm512_setzero_si512();
      const uint8_t* qs = g + 256 + 512 * j;
      for (int c = 0; c < 8; ++c) {
        const __m512i z = ld512(qs + 64 * c);
        const __m512i zl = _mm512_and_si512(z, m4), zh = _mm512_and_si512(_mm512_srli_epi16(z, 4), m4);
        for (int k = 0; k < NT; ++k) {
          const int8_t* ac = a.codes.data() + (t + k) * n + 256 * sb + 64 * j;
          lo[k] = _mm512_dpbusd_epi32(lo[k], zl, _mm512_set1_epi32(rd32(ac + 4 * c)));
          hi[k] = _mm512_dpbusd_epi32(hi[k], zh, _mm512_set1_epi32(rd32(ac + 32 + 4 * c)));
        }
      }
      __m512i sc0, m0, sc1, m1;
      q4k_scale_min(S, 2 * j, &sc0, &m0);
      q4k_scale_min(S, 2 * j + 1, &sc1, &m1);
      for (int k = 0; k < NT; ++k) {
        const int32_t* bsum = a.sums.data() + (t + k) * (n / 32) + 8 * sb + 2 * j;
        const __m512i isum = _mm512_add_epi32(_mm512_mullo_epi32(lo[k], sc0), _mm512_mullo_epi32(hi[k], sc1));
        const __m512i msum = _mm512_add_epi32(_mm512_mullo_epi32(m0, _mm512_set1_epi32(bsum[0])),
                                              _mm512_mullo_epi32(m1, _mm512_set1_epi32(bsum[1])));
        const __m512 d = _mm512_set1_ps(a.da[(t + k) * nsb + sb]);
        acc[k] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(isum), _mm512_mul_ps(dw, d), acc[k]);
        accm[k] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(msum), _mm512_mul_ps(dmw, d), accm[k]);
      }
    }
  }
  for (int k = 0; k < NT; ++k) _mm512_storeu_ps(y + k * ldy, _mm512_sub_ps(acc[k], accm[k]));
}

}  // namespace

void repack_group__avx512(GgmlType type, const uint8_t* group, int64_t n, const RepackActs& a, int64_t t, float* y) {
  switch (type) {
    case GgmlType::Q4_0: return group_q4<false>(group, n, a, t, y);
    case GgmlType::IQ4_NL: return group_q4<true>(group, n, a, t, y);
    case GgmlType::Q4_K: return group_q4_k<1>(group, n, a, t, y, 0);
    default: return;
  }
}

void repack_groups__avx512(GgmlType type, const uint8_t* group, int64_t n, const RepackActs& a, int64_t t0, int64_t t1,
                           float* y, int64_t ldy) {
  int64_t t = t0;
  if (type == GgmlType::Q4_K)
    for (; t + 4 <= t1; t += 4) group_q4_k<4>(group, n, a, t, y + (t - t0) * ldy, ldy);
  for (; t < t1; ++t) repack_group__avx512(type, group, n, a, t, y + (t - t0) * ldy);
}

}  // namespace lowbit
