// AVX-512 VNNI int8 GEMM (the reference is gemm_s8s8_i32__ref in int8_gemm.cc).
//
// _mm512_dpbusd_epi32 multiplies unsigned by signed bytes, so the activation bytes are made
// unsigned by flipping their top bit: a ^ 0x80 = a + 128 ∈ [0, 255]. Then
//   Σ (a + 128) · b = Σ a · b + 128 · Σ b,
// and the weight sums Σ b come from dpbusd(1, b) on the same loaded weight vector, once per
// weight row and shared by every activation row of the tile. dpbusd does not saturate and
// int32 lanes wrap, so acc − (Σb << 7) is exact modulo 2^32, hence exact (the true result
// fits int32). No −128 caveat: every byte of both operands is handled.
//
// Register tile: MR = 4 activation rows × NR = 4 weight rows = 16 accumulators + 4 weight
// sums + 4 activation vectors; 64 bytes of depth per step, a masked step for the k tail
// (masked-out bytes load as 0: weight 0 contributes nothing to either sum).
// GCC 12's avx512fintrin.h initialises its "undefined" vectors from themselves, which
// -Wuninitialized reports at every inlined reduce (GCC bug 105593).
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#include <immintrin.h>

#include "kernels/int8_gemm.h"

namespace lowbit {
namespace {

// acc += dpbusd(u, b). Inline asm: GCC 12 models the intrinsic as non-destructive and then
// copies (and spills) the accumulators around every instruction, halving the speed.
inline __m512i dpbusd(__m512i acc, __m512i u, __m512i b) {
  asm("vpdpbusd %2, %1, %0" : "+v"(acc) : "v"(u), "v"(b));
  return acc;
}

// One step of 64 bytes of depth at offset i of every row; mask selects the bytes loaded
// (masked-out bytes load as 0, and a zero weight adds nothing to either sum).
template <int MR, int NR, bool kMasked>
inline void step(const int8_t* a, int64_t lda, const int8_t* b, int64_t ldb, __mmask64 mask, __m512i* acc,
                 __m512i* bsum) {
  const __m512i flip = _mm512_set1_epi8(static_cast<char>(0x80));
  const __m512i ones = _mm512_set1_epi8(1);
  auto load = [mask](const int8_t* p) {
    if constexpr (kMasked) return _mm512_maskz_loadu_epi8(mask, p);
    else return _mm512_loadu_si512(p);
  };
  __m512i av[MR];
#pragma GCC unroll 4
  for (int r = 0; r < MR; ++r) av[r] = _mm512_xor_si512(load(a + r * lda), flip);
#pragma GCC unroll 4
  for (int j = 0; j < NR; ++j) {
    const __m512i bv = load(b + j * ldb);
    bsum[j] = dpbusd(bsum[j], ones, bv);
#pragma GCC unroll 4
    for (int r = 0; r < MR; ++r) acc[r * NR + j] = dpbusd(acc[r * NR + j], av[r], bv);
  }
}

template <int MR, int NR>
void tile(int64_t k, const int8_t* a, int64_t lda, const int8_t* b, int64_t ldb, int32_t* c, int64_t ldc) {
  __m512i acc[MR * NR], bsum[NR];
#pragma GCC unroll 16
  for (int x = 0; x < MR * NR; ++x) acc[x] = _mm512_setzero_si512();
#pragma GCC unroll 4
  for (int j = 0; j < NR; ++j) bsum[j] = _mm512_setzero_si512();
  int64_t i = 0;
  for (; i + 64 <= k; i += 64) step<MR, NR, false>(a + i, lda, b + i, ldb, 0, acc, bsum);
  if (i < k) step<MR, NR, true>(a + i, lda, b + i, ldb, _cvtu64_mask64(~uint64_t{0} >> (64 - (k - i))), acc, bsum);
#pragma GCC unroll 4
  for (int j = 0; j < NR; ++j) {
    const __m512i off = _mm512_slli_epi32(bsum[j], 7);  // 128 · Σ b, lane by lane
#pragma GCC unroll 4
    for (int r = 0; r < MR; ++r) c[r * ldc + j] = _mm512_reduce_add_epi32(_mm512_sub_epi32(acc[r * NR + j], off));
  }
}

using TileFn = void (*)(int64_t, const int8_t*, int64_t, const int8_t*, int64_t, int32_t*, int64_t);

// Edge tiles: kTiles[mr − 1][nr − 1].
constexpr TileFn kTiles[4][4] = {
    {tile<1, 1>, tile<1, 2>, tile<1, 3>, tile<1, 4>},
    {tile<2, 1>, tile<2, 2>, tile<2, 3>, tile<2, 4>},
    {tile<3, 1>, tile<3, 2>, tile<3, 3>, tile<3, 4>},
    {tile<4, 1>, tile<4, 2>, tile<4, 3>, tile<4, 4>},
};

}  // namespace

void gemm_s8s8_i32__avx512(int64_t m, int64_t n, int64_t k, const int8_t* a, int64_t lda, const int8_t* b,
                           int64_t ldb, int32_t* c, int64_t ldc) {
  // Weight rows outer: a tile of 4 weight rows stays in L1 while the activation rows pass.
  for (int64_t o = 0; o < n; o += 4) {
    const int nr = static_cast<int>(n - o < 4 ? n - o : 4);
    for (int64_t t = 0; t < m; t += 4) {
      const int mr = static_cast<int>(m - t < 4 ? m - t : 4);
      kTiles[mr - 1][nr - 1](k, a + t * lda, lda, b + o * ldb, ldb, c + t * ldc + o, ldc);
    }
  }
}

}  // namespace lowbit
