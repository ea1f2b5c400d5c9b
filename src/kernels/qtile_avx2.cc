// AVX2 tile kernel (qtile.h); the reference is qtile_ref.cc. Without VNNI the products go
// through vpmaddubsw (u8 × s8 pairs summed into saturating int16) and vpmaddwd (int16 pairs into
// int32): a 256-bit register holds four codes of eight rows, so four registers cover the
// tile's 32 rows. Saturation: the pair sum u0·a0 + u1·a1 stays below 2^15 when u ≤ 127 — true of
// every type but those with offset 128 (Q8_0, IQ4_NL, IQ4_XS, u up to 255). For those the codes
// are made signed again (c = u − 128, one xor) and multiplied by the sign trick,
// maddubs(|c|, sign(a, c)), whose pair sums are at most 2 · 128 · 127; their sums Σ c·a need no
// offset correction, so they start from 0 instead of init. Results equal the reference's bit
// for bit (same integer sums, same fma order).
#include <immintrin.h>

#include "kernels/qtile.h"
#include "kernels/qtile_unpack.h"

namespace lowbit {
namespace {

inline int32_t rd32(const int8_t* p) {
  int32_t v;
  std::memcpy(&v, p, 4);
  return v;
}

template <bool kSigned>
inline __m256i products(__m256i w, __m256i a) {
  const __m256i ones = _mm256_set1_epi16(1);
  if constexpr (kSigned) {
    const __m256i c = _mm256_xor_si256(w, _mm256_set1_epi8(static_cast<char>(0x80)));
    return _mm256_madd_epi16(_mm256_maddubs_epi16(_mm256_abs_epi8(c), _mm256_sign_epi8(a, c)), ones);
  } else {
    return _mm256_madd_epi16(_mm256_maddubs_epi16(w, a), ones);
  }
}

// Rows 0..31 in four groups of eight, NT tokens.
template <int S, int NT, bool kMins, bool kSigned>
void tokens_block(const WeightTile& w, const ActPack& a, int64_t t, float* Y, int64_t ldy, int64_t row0, int rows) {
  const int64_t n = w.n, nsub = n / S;
  __m256 f[4][NT];
  const int8_t* ac[NT];
  for (int j = 0; j < NT; ++j) {
    for (int g = 0; g < 4; ++g) f[g][j] = _mm256_setzero_ps();
    ac[j] = a.codes.data() + (t + j) * n;
  }
  const uint8_t* wc = w.codes.data();
  for (int64_t s = 0; s < nsub; ++s) {
    __m256i acc[4][NT];
    for (int j = 0; j < NT; ++j) {
      const __m256i init = kSigned ? _mm256_setzero_si256() : _mm256_set1_epi32(a.init[(t + j) * nsub + s]);
      for (int g = 0; g < 4; ++g) acc[g][j] = init;
    }
    for (int k = 0; k < S / 4; ++k, wc += 128) {
      __m256i wv[4];
      for (int g = 0; g < 4; ++g) wv[g] = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(wc + 32 * g));
      for (int j = 0; j < NT; ++j) {
        const __m256i b = _mm256_set1_epi32(rd32(ac[j] + s * S + 4 * k));
        for (int g = 0; g < 4; ++g) acc[g][j] = _mm256_add_epi32(acc[g][j], products<kSigned>(wv[g], b));
      }
    }
    for (int g = 0; g < 4; ++g) {
      const __m256 sw = _mm256_loadu_ps(w.sw.data() + s * kTileRows + 8 * g);
      for (int j = 0; j < NT; ++j)
        f[g][j] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(acc[g][j]), _mm256_mul_ps(sw, _mm256_set1_ps(a.da[(t + j) * nsub + s])), f[g][j]);
      if constexpr (kMins) {
        const __m256 mw = _mm256_loadu_ps(w.mw.data() + s * kTileRows + 8 * g);
        for (int j = 0; j < NT; ++j) f[g][j] = _mm256_fmadd_ps(mw, _mm256_set1_ps(a.ma[(t + j) * nsub + s]), f[g][j]);
      }
    }
  }
  for (int j = 0; j < NT; ++j) {
    float* y = Y + (t + j) * ldy + row0;
    for (int g = 0; g < 4; ++g) {
      if (rows >= 8 * (g + 1)) {
        _mm256_storeu_ps(y + 8 * g, f[g][j]);
      } else if (rows > 8 * g) {
        alignas(32) float tmp[8];
        _mm256_store_ps(tmp, f[g][j]);
        std::memcpy(y + 8 * g, tmp, static_cast<size_t>(rows - 8 * g) * 4);
      }
    }
  }
}

template <int S, bool kMins, bool kSigned>
void gemm_tokens(const WeightTile& w, const ActPack& a, int64_t t0, int64_t t1, float* Y, int64_t ldy, int64_t row0,
                 int rows) {
  int64_t t = t0;
  for (; t + 2 <= t1; t += 2) tokens_block<S, 2, kMins, kSigned>(w, a, t, Y, ldy, row0, rows);
  if (t < t1) tokens_block<S, 1, kMins, kSigned>(w, a, t, Y, ldy, row0, rows);
}

}  // namespace

void qtile_unpack__avx2(const TileFormat& f, const QMatrix& W, int64_t row0, WeightTile& tile) {
  unpack_tile_rows(f, W, row0, tile, interleave_plain);
}

void qtile_gemm_lane8__ref(const TileFormat& f, const WeightTile& w, const ActPack& a, int64_t t0, int64_t t1, float* Y,
                           int64_t ldy, int64_t row0, int rows);
void qtile_gemm_k8__ref(const TileFormat& f, const WeightTile& w, const ActPack& a, int64_t t0, int64_t t1, float* Y,
                         int64_t ldy, int64_t row0, int rows);

void qtile_gemm__avx2(const TileFormat& f, const WeightTile& w, const ActPack& a, int64_t t0, int64_t t1, float* Y,
                      int64_t ldy, int64_t row0, int rows) {
  if (f.order == TileOrder::Lane8) return qtile_gemm_lane8__ref(f, w, a, t0, t1, Y, ldy, row0, rows);   // no AVX2 kernels yet
  if (f.order == TileOrder::K8) return qtile_gemm_k8__ref(f, w, a, t0, t1, Y, ldy, row0, rows);
  const bool sgn = f.off == 128;
  if (w.sub == 16) {   // Q2_K (mins), Q3_K, Q6_K: offsets below 128
    if (f.mins) gemm_tokens<16, true, false>(w, a, t0, t1, Y, ldy, row0, rows);
    else gemm_tokens<16, false, false>(w, a, t0, t1, Y, ldy, row0, rows);
  } else if (sgn) {
    gemm_tokens<32, false, true>(w, a, t0, t1, Y, ldy, row0, rows);
  } else {
    if (f.mins) gemm_tokens<32, true, false>(w, a, t0, t1, Y, ldy, row0, rows);
    else gemm_tokens<32, false, false>(w, a, t0, t1, Y, ldy, row0, rows);
  }
}

}  // namespace lowbit
