// AVX2 int8 GEMM with the sign trick (the reference is gemm_s8s8_i32__ref in int8_gemm.cc).
//
// AVX2 multiplies bytes only as u8 × s8 (_mm256_maddubs_epi16), so a · b is computed as
// |a| · sign(b, a), where sign(b, a) = b · sgn(a) (_mm256_sign_epi8). maddubs sums adjacent
// pairs into int16 with saturation, then _mm256_madd_epi16(·, 1) widens pairs into int32.
//   Range: |a| ≤ 128 (abs(−128) = 0x80 read as unsigned 128), sign(b, a) ∈ [−128, 127], so a
//   pair sum lies in [−32768, 32512]: no saturation, every int16 sum is exact.
//   The flaw: for b = −128 and a < 0, sign(b, a) should be +128 but wraps to −128. Rows
//   holding −128 therefore use b' = max(b, −127) (never wraps) and add the difference
//   Σ a_i · (b_i − b'_i) = Σ_{b_i = −128} −a_i, which is maddubs(|a|, sign(mask, a)) with
//   mask = (b == −128) = −1 there, 0 elsewhere. Weight rows are scanned once per 4-row
//   block; symmetric int8 weights (scale max|w|/127) never hold −128 and take the fast path.
// Register tile: MR = 2 activation rows × NR = 4 weight rows (8 accumulators, 2 raw and 2
// absolute activation vectors); 32 bytes of depth per step, the k tail in scalar code.
#include <immintrin.h>

#include "kernels/int8_gemm.h"

namespace lowbit {
namespace {

inline __m256i load(const int8_t* p) { return _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p)); }

inline int32_t hsum(__m256i v) {
  __m128i s = _mm_add_epi32(_mm256_castsi256_si128(v), _mm256_extracti128_si256(v, 1));
  s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0x4E));
  s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0xB1));
  return _mm_cvtsi128_si32(s);
}

template <int MR, int NR, bool kFix>
void tile(int64_t k, const int8_t* a, int64_t lda, const int8_t* b, int64_t ldb, int32_t* c, int64_t ldc) {
  const __m256i ones16 = _mm256_set1_epi16(1);
  const __m256i lim = _mm256_set1_epi8(-127);
  const __m256i min8 = _mm256_set1_epi8(-128);
  __m256i acc[MR * NR];  // flat: GCC 12 keeps a 2-D array of vectors in memory
#pragma GCC unroll 8
  for (int x = 0; x < MR * NR; ++x) acc[x] = _mm256_setzero_si256();
  int64_t i = 0;
  for (; i + 32 <= k; i += 32) {
    __m256i av[MR], ax[MR];
#pragma GCC unroll 2
    for (int r = 0; r < MR; ++r) {
      av[r] = load(a + r * lda + i);
      ax[r] = _mm256_abs_epi8(av[r]);
    }
#pragma GCC unroll 4
    for (int j = 0; j < NR; ++j) {
      __m256i bv = load(b + j * ldb + i);
      __m256i fix;
      if constexpr (kFix) {
        fix = _mm256_cmpeq_epi8(bv, min8);
        bv = _mm256_max_epi8(bv, lim);
      }
#pragma GCC unroll 2
      for (int r = 0; r < MR; ++r) {
        __m256i p = _mm256_madd_epi16(_mm256_maddubs_epi16(ax[r], _mm256_sign_epi8(bv, av[r])), ones16);
        if constexpr (kFix)
          p = _mm256_add_epi32(p, _mm256_madd_epi16(_mm256_maddubs_epi16(ax[r], _mm256_sign_epi8(fix, av[r])), ones16));
        acc[r * NR + j] = _mm256_add_epi32(acc[r * NR + j], p);
      }
    }
  }
  for (int r = 0; r < MR; ++r)
    for (int j = 0; j < NR; ++j) {
      int32_t s = hsum(acc[r * NR + j]);
      for (int64_t t = i; t < k; ++t) s += static_cast<int32_t>(a[r * lda + t]) * static_cast<int32_t>(b[j * ldb + t]);
      c[r * ldc + j] = s;
    }
}

using TileFn = void (*)(int64_t, const int8_t*, int64_t, const int8_t*, int64_t, int32_t*, int64_t);

// Edge tiles: kTiles[fix][mr − 1][nr − 1].
constexpr TileFn kTiles[2][2][4] = {
    {{tile<1, 1, false>, tile<1, 2, false>, tile<1, 3, false>, tile<1, 4, false>},
     {tile<2, 1, false>, tile<2, 2, false>, tile<2, 3, false>, tile<2, 4, false>}},
    {{tile<1, 1, true>, tile<1, 2, true>, tile<1, 3, true>, tile<1, 4, true>},
     {tile<2, 1, true>, tile<2, 2, true>, tile<2, 3, true>, tile<2, 4, true>}},
};

// Whether any of the first (k rounded down to 32) bytes of the rows is −128: only the
// vector part uses the sign trick, the scalar tail is exact for any byte.
bool has_min(const int8_t* b, int64_t ldb, int nr, int64_t k) {
  const int64_t kv = k / 32 * 32;
  const __m256i min8 = _mm256_set1_epi8(-128);
  for (int j = 0; j < nr; ++j) {
    __m256i any = _mm256_setzero_si256();
    for (int64_t i = 0; i < kv; i += 32) any = _mm256_or_si256(any, _mm256_cmpeq_epi8(load(b + j * ldb + i), min8));
    if (!_mm256_testz_si256(any, any)) return true;
  }
  return false;
}

}  // namespace

void gemm_s8s8_i32__avx2(int64_t m, int64_t n, int64_t k, const int8_t* a, int64_t lda, const int8_t* b, int64_t ldb,
                         int32_t* c, int64_t ldc) {
  for (int64_t o = 0; o < n; o += 4) {
    const int nr = static_cast<int>(n - o < 4 ? n - o : 4);
    const int fix = has_min(b + o * ldb, ldb, nr, k) ? 1 : 0;
    for (int64_t t = 0; t < m; t += 2) {
      const int mr = static_cast<int>(m - t < 2 ? m - t : 2);
      kTiles[fix][mr - 1][nr - 1](k, a + t * lda, lda, b + o * ldb, ldb, c + t * ldc + o, ldc);
    }
  }
}

}  // namespace lowbit
