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

// Σ over the 32 elements of sub-blocks 2j (low nibbles) and 2j + 1 (high) of 16 rows.
inline void q4k_pair(const uint8_t* qs, const int8_t* ac, __m512i* lo_sum, __m512i* hi_sum) {
  const __m512i m4 = _mm512_set1_epi8(0x0F);
  __m512i s0 = _mm512_setzero_si512(), s1 = _mm512_setzero_si512();
  for (int c = 0; c < 8; ++c) {
    const __m512i z = ld512(qs + 64 * c);
    s0 = _mm512_dpbusd_epi32(s0, _mm512_and_si512(z, m4), _mm512_set1_epi32(rd32(ac + 4 * c)));
    s1 = _mm512_dpbusd_epi32(s1, _mm512_and_si512(_mm512_srli_epi16(z, 4), m4), _mm512_set1_epi32(rd32(ac + 32 + 4 * c)));
  }
  *lo_sum = s0;
  *hi_sum = s1;
}

void group_q4_k(const uint8_t* g, int64_t n, const RepackActs& a, int64_t t, float* y) {
  const int64_t nsb = n / 256;
  const int8_t* ac = a.codes.data() + t * n;
  const float* da = a.da.data() + t * nsb;
  const int32_t* bsum = a.sums.data() + t * (n / 32);
  const __m128i m6 = _mm_set1_epi8(63), m4 = _mm_set1_epi8(15), m2 = _mm_set1_epi8(3);
  __m512 acc = _mm512_setzero_ps();
  for (int64_t sb = 0; sb < nsb; ++sb, g += kRepackRows * sizeof(BlockQ4K), ac += 256, bsum += 8) {
    // get_scale_min_k4 for 16 rows: S[i] = byte i of every row's scales.
    __m128i S[12];
    for (int i = 0; i < 12; ++i) S[i] = ld128(g + 64 + 16 * i);
    __m512i isum = _mm512_setzero_si512(), msum = _mm512_setzero_si512();
    for (int j = 0; j < 4; ++j) {
      __m512i lo, hi;
      q4k_pair(g + 256 + 512 * j, ac + 64 * j, &lo, &hi);
      for (int h = 0; h < 2; ++h) {
        const int s = 2 * j + h;
        __m128i sc, m;
        if (s < 4) {
          sc = _mm_and_si128(S[s], m6);
          m = _mm_and_si128(S[s + 4], m6);
        } else {
          const __m128i top_sc = _mm_slli_epi16(_mm_and_si128(_mm_srli_epi16(S[s - 4], 6), m2), 4);
          const __m128i top_m = _mm_slli_epi16(_mm_and_si128(_mm_srli_epi16(S[s], 6), m2), 4);
          sc = _mm_or_si128(_mm_and_si128(S[s + 4], m4), top_sc);
          m = _mm_or_si128(_mm_and_si128(_mm_srli_epi16(S[s + 4], 4), m4), top_m);
        }
        isum = _mm512_add_epi32(isum, _mm512_mullo_epi32(h ? hi : lo, _mm512_cvtepu8_epi32(sc)));
        msum = _mm512_add_epi32(msum, _mm512_mullo_epi32(_mm512_cvtepu8_epi32(m), _mm512_set1_epi32(bsum[s])));
      }
    }
    const __m512 d = _mm512_set1_ps(da[sb]);
    acc = _mm512_fmadd_ps(_mm512_cvtepi32_ps(isum), _mm512_mul_ps(scales16(g), d), acc);
    acc = _mm512_fnmadd_ps(_mm512_cvtepi32_ps(msum), _mm512_mul_ps(scales16(g + 32), d), acc);
  }
  _mm512_storeu_ps(y, acc);
}

}  // namespace

void repack_group__avx512(GgmlType type, const uint8_t* group, int64_t n, const RepackActs& a, int64_t t, float* y) {
  switch (type) {
    case GgmlType::Q4_0: return group_q4<false>(group, n, a, t, y);
    case GgmlType::IQ4_NL: return group_q4<true>(group, n, a, t, y);
    case GgmlType::Q4_K: return group_q4_k(group, n, a, t, y);
    default: return;
  }
}

}  // namespace lowbit
