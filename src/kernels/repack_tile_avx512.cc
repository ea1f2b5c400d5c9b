// AVX-512 tile unpacker for interleaved weights: repack_tile.cc's reference with 512-bit nibble
// splits, 16 scales per conversion (vcvtph2ps) and the Q4_K scale decode for 16 rows at once.
// Bit-identical to the reference (repack_test).

// GCC 12's avx512fintrin.h initialises its "undefined" vectors from themselves (bug 105593).
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#include <immintrin.h>

#include "kernels/qtile.h"
#include "kernels/repack.h"
#include "quant/codecs/blocks.h"

namespace lowbit {
namespace {

inline __m512 scales16(const uint8_t* p) { return _mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(p))); }

template <bool kNl>
inline void split(const uint8_t* chunk, uint8_t* lo, uint8_t* hi) {
  const __m512i m4 = _mm512_set1_epi8(0x0F);
  const __m512i z = _mm512_loadu_si512(chunk);
  __m512i l = _mm512_and_si512(z, m4), h = _mm512_and_si512(_mm512_srli_epi16(z, 4), m4);
  if constexpr (kNl) {
    const __m512i grid = _mm512_broadcast_i32x4(_mm_setr_epi8(
        1, 24, 45, 63, 79, 93, 106, 118, static_cast<char>(129), static_cast<char>(141), static_cast<char>(153),
        static_cast<char>(166), static_cast<char>(181), static_cast<char>(197), static_cast<char>(217), static_cast<char>(241)));
    l = _mm512_shuffle_epi8(grid, l);
    h = _mm512_shuffle_epi8(grid, h);
  }
  _mm512_storeu_si512(lo, l);
  _mm512_storeu_si512(hi, h);
}

template <bool kNl>
void group_q4(const uint8_t* g, int64_t n, int h, WeightTile& t) {
  const int64_t nb = n / 32;
  for (int64_t b = 0; b < nb; ++b, g += kRepackRows * sizeof(BlockQ4_0)) {
    _mm512_storeu_ps(t.sw.data() + b * kTileRows + 16 * h, scales16(g));
    uint8_t* quads = t.codes.data() + 8 * b * 128 + 64 * h;
    for (int k = 0; k < 4; ++k) split<kNl>(g + 32 + 64 * k, quads + 128 * k, quads + 128 * (4 + k));
  }
}

void group_q4_k(const uint8_t* g, int64_t n, int h, WeightTile& t) {
  const int64_t nsb = n / 256;
  const __m128i m6 = _mm_set1_epi8(63), m4 = _mm_set1_epi8(15), m2 = _mm_set1_epi8(3);
  for (int64_t sb = 0; sb < nsb; ++sb, g += kRepackRows * sizeof(BlockQ4K)) {
    __m128i S[12];
    for (int i = 0; i < 12; ++i) S[i] = _mm_loadu_si128(reinterpret_cast<const __m128i*>(g + 64 + 16 * i));
    const __m512 d = scales16(g), dmin = scales16(g + 32);
    for (int s = 0; s < 8; ++s) {
      __m128i sc, m;   // get_scale_min_k4 for 16 rows (as repack_avx512.cc)
      if (s < 4) {
        sc = _mm_and_si128(S[s], m6);
        m = _mm_and_si128(S[s + 4], m6);
      } else {
        sc = _mm_or_si128(_mm_and_si128(S[s + 4], m4), _mm_slli_epi16(_mm_and_si128(_mm_srli_epi16(S[s - 4], 6), m2), 4));
        m = _mm_or_si128(_mm_and_si128(_mm_srli_epi16(S[s + 4], 4), m4), _mm_slli_epi16(_mm_and_si128(_mm_srli_epi16(S[s], 6), m2), 4));
      }
      const int64_t at = (8 * sb + s) * kTileRows + 16 * h;
      _mm512_storeu_ps(t.sw.data() + at, _mm512_mul_ps(d, _mm512_cvtepi32_ps(_mm512_cvtepu8_epi32(sc))));
      const __m512 mm = _mm512_mul_ps(dmin, _mm512_cvtepi32_ps(_mm512_cvtepu8_epi32(m)));
      const __m512i neg = _mm512_xor_si512(_mm512_castps_si512(mm), _mm512_set1_epi32(static_cast<int>(0x80000000u)));
      _mm512_storeu_ps(t.mw.data() + at, _mm512_castsi512_ps(neg));   // −x exactly, as the reference
    }
    uint8_t* quads = t.codes.data() + 64 * sb * 128 + 64 * h;
    for (int j = 0; j < 4; ++j)
      for (int c = 0; c < 8; ++c)
        split<false>(g + 256 + 64 * (8 * j + c), quads + 128 * (16 * j + c), quads + 128 * (16 * j + 8 + c));
  }
}

}  // namespace

void repack_tile_group__avx512(GgmlType type, const uint8_t* g, int64_t n, int h, WeightTile& t) {
  switch (type) {
    case GgmlType::Q4_0: return group_q4<false>(g, n, h, t);
    case GgmlType::IQ4_NL: return group_q4<true>(g, n, h, t);
    case GgmlType::Q4_K: return group_q4_k(g, n, h, t);
    default: return;
  }
}

}  // namespace lowbit
