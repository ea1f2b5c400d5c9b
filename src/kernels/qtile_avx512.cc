// AVX-512 VNNI tile kernel (qtile.h); the reference is qtile_ref.cc. One vpdpbusd multiplies
// four unsigned weight codes of sixteen rows (one 512-bit load of the tile) with the same four
// signed activation codes broadcast to every lane, summing into the row's int32 lane. Register
// block: 32 rows (two lane groups) × up to 4 tokens, so each weight load feeds eight vpdpbusd;
// per sub-block the int32 sums start at init (−off · Σa, the offset correction, exact) and are
// scaled once into float accumulators. The row decoders are the reference's, vectorized by the
// compiler for this file's ISA.

// GCC 12's avx512fintrin.h initialises its "undefined" vectors from themselves (bug 105593).
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
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

// Sixteen rows of sixteen dwords transposed in registers: o[k] = dword k of rows 0..15.
// 32-bit then 64-bit unpacks transpose 4×4 blocks inside each 128-bit lane; two rounds of
// 128-bit lane shuffles then transpose the 4×4 grid of lanes.
inline void transpose16(__m512i r[16]) {
  __m512i t[16], u[16];
  for (int i = 0; i < 8; ++i) {
    t[2 * i] = _mm512_unpacklo_epi32(r[2 * i], r[2 * i + 1]);
    t[2 * i + 1] = _mm512_unpackhi_epi32(r[2 * i], r[2 * i + 1]);
  }
  for (int i = 0; i < 4; ++i) {   // u[4i + j], lane L: rows 4i..4i+3 of column 4L + j
    u[4 * i + 0] = _mm512_unpacklo_epi64(t[4 * i], t[4 * i + 2]);
    u[4 * i + 1] = _mm512_unpackhi_epi64(t[4 * i], t[4 * i + 2]);
    u[4 * i + 2] = _mm512_unpacklo_epi64(t[4 * i + 1], t[4 * i + 3]);
    u[4 * i + 3] = _mm512_unpackhi_epi64(t[4 * i + 1], t[4 * i + 3]);
  }
  for (int j = 0; j < 4; ++j) {
    const __m512i v0 = _mm512_shuffle_i32x4(u[j], u[4 + j], 0x88), v1 = _mm512_shuffle_i32x4(u[j], u[4 + j], 0xDD);
    const __m512i v2 = _mm512_shuffle_i32x4(u[8 + j], u[12 + j], 0x88), v3 = _mm512_shuffle_i32x4(u[8 + j], u[12 + j], 0xDD);
    r[j] = _mm512_shuffle_i32x4(v0, v2, 0x88);
    r[8 + j] = _mm512_shuffle_i32x4(v0, v2, 0xDD);
    r[4 + j] = _mm512_shuffle_i32x4(v1, v3, 0x88);
    r[12 + j] = _mm512_shuffle_i32x4(v1, v3, 0xDD);
  }
}

// Group k of the tile (128 bytes) is dword k of each of the 32 staging rows: per sixteen rows
// and 64 elements, sixteen loads, one register transpose, sixteen stores; a last 32 elements
// (n = 32 mod 64) load half rows and store half the groups.
void interleave_transpose(const uint8_t* staging, int64_t n, uint8_t* codes) {
  for (int g = 0; g < 2; ++g) {
    const uint8_t* rows = staging + 16 * g * n;
    for (int64_t c = 0; c < n; c += 64) {
      const bool full = c + 64 <= n;
      const __mmask16 m = full ? 0xFFFF : 0x00FF;
      __m512i r[16];
      for (int i = 0; i < 16; ++i) r[i] = _mm512_maskz_loadu_epi32(m, rows + i * n + c);
      transpose16(r);
      uint8_t* o = codes + (c / 4) * 128 + 64 * g;
      for (int k = 0; k < (full ? 16 : 8); ++k) _mm512_storeu_si512(o + 128 * k, r[k]);
    }
  }
}

template <int S, int NT, bool kMins>
void tokens_block(const WeightTile& w, const ActPack& a, int64_t t, float* Y, int64_t ldy, int64_t row0, int rows) {
  const int64_t n = w.n, nsub = n / S;
  __m512 f0[NT], f1[NT];
  const int8_t* ac[NT];
  for (int j = 0; j < NT; ++j) {
    f0[j] = f1[j] = _mm512_setzero_ps();
    ac[j] = a.codes.data() + (t + j) * n;
  }
  const uint8_t* wc = w.codes.data();
  for (int64_t s = 0; s < nsub; ++s) {
    __m512i i0[NT], i1[NT];
    for (int j = 0; j < NT; ++j) i0[j] = i1[j] = _mm512_set1_epi32(a.init[(t + j) * nsub + s]);
    for (int k = 0; k < S / 4; ++k, wc += 128) {
      const __m512i w0 = _mm512_loadu_si512(wc), w1 = _mm512_loadu_si512(wc + 64);
      for (int j = 0; j < NT; ++j) {
        const __m512i b = _mm512_set1_epi32(rd32(ac[j] + s * S + 4 * k));
        i0[j] = _mm512_dpbusd_epi32(i0[j], w0, b);
        i1[j] = _mm512_dpbusd_epi32(i1[j], w1, b);
      }
    }
    const __m512 sw0 = _mm512_loadu_ps(w.sw.data() + s * kTileRows), sw1 = _mm512_loadu_ps(w.sw.data() + s * kTileRows + 16);
    for (int j = 0; j < NT; ++j) {
      const __m512 da = _mm512_set1_ps(a.da[(t + j) * nsub + s]);
      f0[j] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(i0[j]), _mm512_mul_ps(sw0, da), f0[j]);
      f1[j] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(i1[j]), _mm512_mul_ps(sw1, da), f1[j]);
    }
    if constexpr (kMins) {
      const __m512 mw0 = _mm512_loadu_ps(w.mw.data() + s * kTileRows), mw1 = _mm512_loadu_ps(w.mw.data() + s * kTileRows + 16);
      for (int j = 0; j < NT; ++j) {
        const __m512 ma = _mm512_set1_ps(a.ma[(t + j) * nsub + s]);
        f0[j] = _mm512_fmadd_ps(mw0, ma, f0[j]);
        f1[j] = _mm512_fmadd_ps(mw1, ma, f1[j]);
      }
    }
  }
  const __mmask16 m0 = rows >= 16 ? 0xFFFF : static_cast<__mmask16>((1u << rows) - 1);
  const __mmask16 m1 = rows >= 32 ? 0xFFFF : rows > 16 ? static_cast<__mmask16>((1u << (rows - 16)) - 1) : 0;
  for (int j = 0; j < NT; ++j) {
    float* y = Y + (t + j) * ldy + row0;
    _mm512_mask_storeu_ps(y, m0, f0[j]);
    _mm512_mask_storeu_ps(y + 16, m1, f1[j]);
  }
}

template <int S, bool kMins>
void gemm_tokens(const WeightTile& w, const ActPack& a, int64_t t0, int64_t t1, float* Y, int64_t ldy, int64_t row0,
                 int rows) {
  int64_t t = t0;
  for (; t + 4 <= t1; t += 4) tokens_block<S, 4, kMins>(w, a, t, Y, ldy, row0, rows);
  switch (t1 - t) {
    case 3: tokens_block<S, 3, kMins>(w, a, t, Y, ldy, row0, rows); break;
    case 2: tokens_block<S, 2, kMins>(w, a, t, Y, ldy, row0, rows); break;
    case 1: tokens_block<S, 1, kMins>(w, a, t, Y, ldy, row0, rows); break;
    default: break;
  }
}

}  // namespace

void qtile_unpack__avx512(const TileFormat& f, const QMatrix& W, int64_t row0, WeightTile& tile) {
  unpack_tile_rows(f, W, row0, tile, interleave_transpose);
}

namespace {

// The Lane8 order (qtile.h) for sixteen rows (lane group g) and one token: eight float
// accumulators, one per quad position in the block, each taking one vpdpbusd of four codes.
template <bool kMins>
void lane8_group(const WeightTile& w, const ActPack& a, int64_t t, int g, float* out) {
  const int64_t n = w.n, nsub = n / 32;
  const int8_t* ac = a.codes.data() + t * n;
  const int32_t* qi = a.qinit.data() + t * (n / 4);
  __m512 acc[8], summs = _mm512_setzero_ps();
  for (int q = 0; q < 8; ++q) acc[q] = _mm512_setzero_ps();
  for (int64_t s = 0; s < nsub; ++s) {
    const __m512 p = _mm512_mul_ps(_mm512_loadu_ps(w.sw.data() + s * kTileRows + 16 * g), _mm512_set1_ps(a.da[t * nsub + s]));
    const uint8_t* wc = w.codes.data() + 8 * s * 128 + 64 * g;
    for (int q = 0; q < 8; ++q) {
      const __m512i isum = _mm512_dpbusd_epi32(_mm512_set1_epi32(qi[8 * s + q]), _mm512_loadu_si512(wc + 128 * q),
                                               _mm512_set1_epi32(rd32(ac + 32 * s + 4 * q)));
      acc[q] = _mm512_fmadd_ps(p, _mm512_cvtepi32_ps(isum), acc[q]);
    }
    if constexpr (kMins)
      summs = _mm512_fmadd_ps(_mm512_loadu_ps(w.mw.data() + s * kTileRows + 16 * g), _mm512_set1_ps(a.ma[t * nsub + s]), summs);
  }
  __m512 c[4];
  for (int i = 0; i < 4; ++i) c[i] = _mm512_add_ps(acc[i], acc[i + 4]);
  __m512 y = _mm512_add_ps(_mm512_add_ps(c[0], c[2]), _mm512_add_ps(c[1], c[3]));
  if constexpr (kMins) y = _mm512_add_ps(y, summs);
  _mm512_storeu_ps(out, y);
}

void gemm_lane8(const TileFormat& f, const WeightTile& w, const ActPack& a, int64_t t0, int64_t t1, float* Y, int64_t ldy,
                int64_t row0, int rows) {
  alignas(64) float y[16];
  for (int64_t t = t0; t < t1; ++t)
    for (int g = 0; g * 16 < rows; ++g) {
      if (f.mins) lane8_group<true>(w, a, t, g, y);
      else lane8_group<false>(w, a, t, g, y);
      for (int r = 16 * g; r < std::min(rows, 16 * g + 16); ++r) Y[t * ldy + row0 + r] = y[r - 16 * g];
    }
}

// The K8 order (qtile.h) for sixteen rows (lane group g) and one token. kKind: the type — Q6_K
// (scales per 16, the −32 correction), Q5_K (scales per 32, the min term) or Q3_K (scales per
// 16, the −4 offset inside each quad's sum) or IQ4_XS (scales per 32, the −128 offset inside
// each quad's sum, one lane) or TQ2_0 (no scales, −B[2l] − B[2l+1] per lane).
enum K8Kind { kQ6, kQ5, kQ3, kIq4Xs, kTq2 };
template <int kKind>
void k8_group(const WeightTile& w, const ActPack& a, int64_t t, int g, float* out) {
  constexpr int kPer = kKind == kQ5 || kKind == kIq4Xs || kKind == kTq2 ? 8 : 16;
  const int64_t n = w.n, nsub = n / (256 / kPer);
  const int8_t* ac = a.codes.data() + t * n;
  const int32_t* B = a.bsum.data() + t * (n / 16);
  __m512 acc[8], summs = _mm512_setzero_ps();
  for (int l = 0; l < 8; ++l) acc[l] = _mm512_setzero_ps();
  for (int64_t sb = 0; sb < n / 256; ++sb) {
    __m512i sc[kPer];
    for (int s = 0; s < kPer; ++s) sc[s] = _mm512_loadu_si512(w.isc.data() + (kPer * sb + s) * kTileRows + 16 * g);
    __m512i L[8];
    for (int l = 0; l < 8; ++l) L[l] = _mm512_setzero_si512();
    const uint8_t* wc = w.codes.data() + 64 * sb * 128 + 64 * g;
    const int8_t* as = ac + 256 * sb;
    for (int c = 0; c < 8; ++c)
      for (int l = 0; l < 8; ++l) {
        const __m512i init = kKind == kQ3 || kKind == kIq4Xs ? _mm512_set1_epi32(a.qinit[t * (n / 4) + 64 * sb + 8 * c + l]) : _mm512_setzero_si512();
        const __m512i q = _mm512_dpbusd_epi32(init, _mm512_loadu_si512(wc + (8 * c + l) * 128), _mm512_set1_epi32(rd32(as + 32 * c + 4 * l)));
        L[l] = _mm512_add_epi32(L[l], _mm512_mullo_epi32(q, sc[kPer == 8 ? c : 2 * c + l / 4]));
      }
    const int32_t* bs = B + 16 * sb;
    if constexpr (kKind == kTq2)
      for (int l = 0; l < 8; ++l) L[l] = _mm512_sub_epi32(L[l], _mm512_set1_epi32(bs[2 * l] + bs[2 * l + 1]));
    if constexpr (kKind == kQ6)
      for (int l = 0; l < 8; ++l) {
        const __m512i corr = _mm512_add_epi32(_mm512_mullo_epi32(sc[2 * l], _mm512_set1_epi32(bs[2 * l])),
                                              _mm512_mullo_epi32(sc[2 * l + 1], _mm512_set1_epi32(bs[2 * l + 1])));
        L[l] = _mm512_sub_epi32(L[l], _mm512_slli_epi32(corr, 5));
      }
    const float da = a.da[t * nsub + kPer * sb];
    const __m512 p = _mm512_mul_ps(_mm512_loadu_ps(w.dsb.data() + sb * kTileRows + 16 * g), _mm512_set1_ps(da));
    if constexpr (kKind == kIq4Xs) {   // one lane: the super-block's whole sum
      for (int l = 1; l < 8; ++l) L[0] = _mm512_add_epi32(L[0], L[l]);
      acc[0] = _mm512_fmadd_ps(p, _mm512_cvtepi32_ps(L[0]), acc[0]);
    } else {
      for (int l = 0; l < 8; ++l) acc[l] = _mm512_fmadd_ps(p, _mm512_cvtepi32_ps(L[l]), acc[l]);
    }
    if constexpr (kKind == kQ5) {
      __m512i msum = _mm512_setzero_si512();
      for (int s = 0; s < 8; ++s)
        msum = _mm512_add_epi32(msum, _mm512_mullo_epi32(_mm512_loadu_si512(w.imn.data() + (8 * sb + s) * kTileRows + 16 * g),
                                                         _mm512_set1_epi32(bs[2 * s] + bs[2 * s + 1])));
      const __m512 dmin = _mm512_mul_ps(_mm512_set1_ps(da), _mm512_loadu_ps(w.dmsb.data() + sb * kTileRows + 16 * g));
      const __m512 neg = _mm512_castsi512_ps(_mm512_xor_si512(_mm512_castps_si512(dmin), _mm512_set1_epi32(static_cast<int>(0x80000000u))));
      summs = _mm512_fmadd_ps(_mm512_cvtepi32_ps(msum), neg, summs);
    }
  }
  __m512 c[4];
  for (int i = 0; i < 4; ++i) c[i] = _mm512_add_ps(acc[i], acc[i + 4]);
  __m512 y = _mm512_add_ps(_mm512_add_ps(c[0], c[2]), _mm512_add_ps(c[1], c[3]));   // = acc[0] for one lane
  if constexpr (kKind == kQ5) y = _mm512_add_ps(y, summs);
  _mm512_storeu_ps(out, y);
}

// Q2_K and Q4_K in the K8 order's group form (qtile.h: a half super-block of eight 16-element
// sub-blocks, or a pair of 32-element ones), sixteen rows and one token.
template <int S, int kGroup>
void grouped_k8(const WeightTile& w, const ActPack& a, int64_t t, int g, float* out) {
  constexpr int kPer = 256 / S;
  const int64_t n = w.n, nsub = n / S;
  const int8_t* ac = a.codes.data() + t * n;
  const int32_t* B = a.bsum.data() + t * (n / 16);
  __m512 acc = _mm512_setzero_ps(), accm = _mm512_setzero_ps();
  for (int64_t sb = 0; sb < n / 256; ++sb) {
    const __m512 d = _mm512_set1_ps(a.da[t * nsub + kPer * sb]);
    const __m512 pd = _mm512_mul_ps(_mm512_loadu_ps(w.dsb.data() + sb * kTileRows + 16 * g), d);
    const __m512 pm = _mm512_mul_ps(_mm512_loadu_ps(w.dmsb.data() + sb * kTileRows + 16 * g), d);
    for (int g0 = 0; g0 < kPer; g0 += kGroup) {
      __m512i L = _mm512_setzero_si512(), M = _mm512_setzero_si512();
      for (int s = g0; s < g0 + kGroup; ++s) {
        const int64_t e0 = 256 * sb + S * s;
        const uint8_t* wc = w.codes.data() + (e0 / 4) * 128 + 64 * g;
        __m512i q = _mm512_setzero_si512();
        for (int k = 0; k < S / 4; ++k) q = _mm512_dpbusd_epi32(q, _mm512_loadu_si512(wc + 128 * k), _mm512_set1_epi32(rd32(ac + e0 + 4 * k)));
        int32_t bs = 0;
        for (int k = 0; k < S / 16; ++k) bs += B[e0 / 16 + k];
        const int64_t at = (kPer * sb + s) * kTileRows + 16 * g;
        L = _mm512_add_epi32(L, _mm512_mullo_epi32(q, _mm512_loadu_si512(w.isc.data() + at)));
        M = _mm512_add_epi32(M, _mm512_mullo_epi32(_mm512_loadu_si512(w.imn.data() + at), _mm512_set1_epi32(bs)));
      }
      acc = _mm512_fmadd_ps(_mm512_cvtepi32_ps(L), pd, acc);
      accm = _mm512_fmadd_ps(_mm512_cvtepi32_ps(M), pm, accm);
    }
  }
  _mm512_storeu_ps(out, _mm512_sub_ps(acc, accm));
}

void gemm_k8(const TileFormat& f, const WeightTile& w, const ActPack& a, int64_t t0, int64_t t1, float* Y, int64_t ldy,
             int64_t row0, int rows) {
  alignas(64) float y[16];
  for (int64_t t = t0; t < t1; ++t)
    for (int g = 0; g * 16 < rows; ++g) {
      if (f.wtype == GgmlType::Q2_K) grouped_k8<16, 8>(w, a, t, g, y);
      else if (f.wtype == GgmlType::Q4_K) grouped_k8<32, 2>(w, a, t, g, y);
      else if (f.wtype == GgmlType::Q6_K) k8_group<kQ6>(w, a, t, g, y);
      else if (f.wtype == GgmlType::Q3_K) k8_group<kQ3>(w, a, t, g, y);
      else if (f.wtype == GgmlType::IQ4_XS) k8_group<kIq4Xs>(w, a, t, g, y);
      else if (f.wtype == GgmlType::TQ2_0 || f.wtype == GgmlType::TQ1_0) k8_group<kTq2>(w, a, t, g, y);
      else k8_group<kQ5>(w, a, t, g, y);
      for (int r = 16 * g; r < std::min(rows, 16 * g + 16); ++r) Y[t * ldy + row0 + r] = y[r - 16 * g];
    }
}

}  // namespace

void qtile_gemm__avx512(const TileFormat& f, const WeightTile& w, const ActPack& a, int64_t t0, int64_t t1, float* Y,
                  int64_t ldy, int64_t row0, int rows) {
  if (f.order == TileOrder::Lane8) return gemm_lane8(f, w, a, t0, t1, Y, ldy, row0, rows);
  if (f.order == TileOrder::K8) return gemm_k8(f, w, a, t0, t1, Y, ldy, row0, rows);
  if (w.sub == 16) {
    if (f.mins) gemm_tokens<16, true>(w, a, t0, t1, Y, ldy, row0, rows);
    else gemm_tokens<16, false>(w, a, t0, t1, Y, ldy, row0, rows);
  } else {
    if (f.mins) gemm_tokens<32, true>(w, a, t0, t1, Y, ldy, row0, rows);
    else gemm_tokens<32, false>(w, a, t0, t1, Y, ldy, row0, rows);
  }
}

}  // namespace lowbit
