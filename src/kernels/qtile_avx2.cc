// AVX2 tile kernels (qtile.h); the reference is qtile_ref.cc. Without VNNI the products go
// through vpmaddubsw (u8 × s8 pairs summed into saturating int16) and vpmaddwd (int16 pairs into
// int32): a 256-bit register holds four codes of eight rows, so four registers cover the
// tile's 32 rows. Saturation: the pair sum u0·a0 + u1·a1 stays below 2^15 when u ≤ 127 — true of
// every type but those with offset 128 (Q8_0, IQ4_NL, IQ4_XS, u up to 255). For those the codes
// are made signed again (c = u − 128, one xor) and multiplied by the sign trick,
// maddubs(|c|, sign(a, c)), whose pair sums are at most 2 · 128 · 127 (activations are never
// −128); their sums Σ c·a need no offset correction, so they start from 0 instead of init.
// Sub order: 32 rows × two tokens per register block. Lane8 and K8 orders: eight rows (one lane
// group) and one token at a time, with the reference's per-lane accumulators and reduction
// tree. Integer scales are applied in vpmaddwd itself: the int16 pair sums times the scale in
// both halves of each lane give sc · Σ u·a exactly (scales and activation sums fit in int16).
// Results equal the reference's bit for bit (same integer sums, same fma order).
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

// Per row (int32 lane), the int16 pair sums of one quad: four codes w of eight rows times the
// four activations a broadcast to every lane (kSigned: the sign trick, codes c = u − 128).
template <bool kSigned>
inline __m256i pair_sums(__m256i w, __m256i a) {
  if constexpr (kSigned) {
    const __m256i c = _mm256_xor_si256(w, _mm256_set1_epi8(static_cast<char>(0x80)));
    return _mm256_maddubs_epi16(_mm256_abs_epi8(c), _mm256_sign_epi8(a, c));
  } else {
    return _mm256_maddubs_epi16(w, a);
  }
}

// The quad's whole sum per row.
template <bool kSigned>
inline __m256i products(__m256i w, __m256i a) {
  return _mm256_madd_epi16(pair_sums<kSigned>(w, a), _mm256_set1_epi16(1));
}

// int16 lo in the low and hi in the high half of each int32 lane (both must fit in int16), so
// vpmaddwd against int16 pairs (x0, x1) gives lo·x0 + hi·x1 in int32.
inline __m256i halves(__m256i lo, __m256i hi) { return _mm256_blend_epi16(lo, _mm256_slli_epi32(hi, 16), 0xAA); }
inline int32_t halves(int32_t lo, int32_t hi) {
  return static_cast<int32_t>((static_cast<uint32_t>(lo) & 0xFFFFu) | static_cast<uint32_t>(hi) << 16);
}

inline __m256i load8i(const int32_t* p) { return _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p)); }
inline __m256i load32b(const uint8_t* p) { return _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p)); }

// y = (c0 + c2) + (c1 + c3), c_i = acc[i] + acc[i + 4] (qtile.h: the Lane8 reduction).
inline __m256 reduce8(const __m256 acc[8]) {
  __m256 c[4];
  for (int i = 0; i < 4; ++i) c[i] = _mm256_add_ps(acc[i], acc[i + 4]);
  return _mm256_add_ps(_mm256_add_ps(c[0], c[2]), _mm256_add_ps(c[1], c[3]));
}

// The first `count` (≤ 8) lanes of v to y.
inline void store_rows(float* y, __m256 v, int count) {
  if (count >= 8) return _mm256_storeu_ps(y, v);
  alignas(32) float tmp[8];
  _mm256_store_ps(tmp, v);
  std::memcpy(y, tmp, static_cast<size_t>(count) * 4);
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
      for (int g = 0; g < 4; ++g) wv[g] = load32b(wc + 32 * g);
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
    for (int g = 0; 8 * g < rows; ++g) store_rows(y + 8 * g, f[g][j], rows - 8 * g);
  }
}

template <int S, bool kMins, bool kSigned>
void gemm_tokens(const WeightTile& w, const ActPack& a, int64_t t0, int64_t t1, float* Y, int64_t ldy, int64_t row0,
                 int rows) {
  int64_t t = t0;
  for (; t + 2 <= t1; t += 2) tokens_block<S, 2, kMins, kSigned>(w, a, t, Y, ldy, row0, rows);
  if (t < t1) tokens_block<S, 1, kMins, kSigned>(w, a, t, Y, ldy, row0, rows);
}

// The Lane8 order (qtile.h) for eight rows (lane group g) and one token: eight float
// accumulators, one per quad position in the block. kOff: the code offset — 0 (Q4_1, Q5_1),
// 16 (Q5_0: the quad's init added) or 128 (Q8_0: the sign trick, no init).
template <bool kMins, int kOff>
__m256 lane8_group(const WeightTile& w, const ActPack& a, int64_t t, int g) {
  const int64_t n = w.n, nsub = n / 32;
  const int8_t* ac = a.codes.data() + t * n;
  const int32_t* qi = a.qinit.data() + t * (n / 4);
  __m256 acc[8], summs = _mm256_setzero_ps();
  for (int q = 0; q < 8; ++q) acc[q] = _mm256_setzero_ps();
  for (int64_t s = 0; s < nsub; ++s) {
    const __m256 p = _mm256_mul_ps(_mm256_loadu_ps(w.sw.data() + s * kTileRows + 8 * g), _mm256_set1_ps(a.da[t * nsub + s]));
    const uint8_t* wc = w.codes.data() + 8 * s * 128 + 32 * g;
    for (int q = 0; q < 8; ++q) {
      __m256i isum = products<kOff == 128>(load32b(wc + 128 * q), _mm256_set1_epi32(rd32(ac + 32 * s + 4 * q)));
      if constexpr (kOff != 0 && kOff != 128) isum = _mm256_add_epi32(isum, _mm256_set1_epi32(qi[8 * s + q]));
      acc[q] = _mm256_fmadd_ps(p, _mm256_cvtepi32_ps(isum), acc[q]);
    }
    if constexpr (kMins)
      summs = _mm256_fmadd_ps(_mm256_loadu_ps(w.mw.data() + s * kTileRows + 8 * g), _mm256_set1_ps(a.ma[t * nsub + s]), summs);
  }
  const __m256 y = reduce8(acc);
  return kMins ? _mm256_add_ps(y, summs) : y;
}

// The K8 order (qtile.h) for eight rows (lane group g) and one token, lane by lane: lane l sums
// quad l of the eight 32-element chunks. kKind: Q6_K (scales per 16, the −32 correction), Q5_K
// (scales per 32, the min term), Q3_K (scales per 16, the quad's init −4·Σa), IQ4_XS (scales
// per 32, the sign trick, one lane) or TQ2_0 / TQ1_0 (unit scales, −B[2l] − B[2l+1] per lane).
enum K8Kind { kQ6, kQ5, kQ3, kIq4Xs, kTq2 };
template <int kKind>
__m256 k8_group(const WeightTile& w, const ActPack& a, int64_t t, int g) {
  constexpr int kPer = kKind == kQ6 || kKind == kQ3 ? 16 : 8;
  const int64_t n = w.n, nsub = n / (256 / kPer);
  const int8_t* ac = a.codes.data() + t * n;
  const int32_t* B = a.bsum.data() + t * (n / 16);
  __m256 acc[8], summs = _mm256_setzero_ps();
  for (int l = 0; l < 8; ++l) acc[l] = _mm256_setzero_ps();
  for (int64_t sb = 0; sb < n / 256; ++sb) {
    __m256i sc[kPer], sc2[kPer];   // the scales, and each in both int16 halves
    for (int s = 0; s < kPer; ++s) {
      sc[s] = load8i(w.isc.data() + (kPer * sb + s) * kTileRows + 8 * g);
      sc2[s] = halves(sc[s], sc[s]);
    }
    const uint8_t* wc = w.codes.data() + 64 * sb * 128 + 32 * g;
    const int8_t* as = ac + 256 * sb;
    const int32_t* bs = B + 16 * sb;
    const float da = a.da[t * nsub + kPer * sb];
    const __m256 p = _mm256_mul_ps(_mm256_loadu_ps(w.dsb.data() + sb * kTileRows + 8 * g), _mm256_set1_ps(da));
    __m256i whole = _mm256_setzero_si256();   // IQ4_XS: the super-block's sum
    for (int l = 0; l < 8; ++l) {
      __m256i L = _mm256_setzero_si256();
      for (int c = 0; c < 8; ++c) {
        const int qd = 8 * c + l;   // quad l of chunk c
        __m256i x = pair_sums<kKind == kIq4Xs>(load32b(wc + 128 * qd), _mm256_set1_epi32(rd32(as + 4 * qd)));
        if constexpr (kKind == kQ3)   // the init joins the first pair sum (|·| ≤ 1778 + 2032)
          x = _mm256_add_epi16(x, _mm256_set1_epi32(a.qinit[t * (n / 4) + 64 * sb + qd] & 0xFFFF));
        L = _mm256_add_epi32(L, _mm256_madd_epi16(x, sc2[kPer == 8 ? c : 2 * c + l / 4]));
      }
      if constexpr (kKind == kTq2) L = _mm256_sub_epi32(L, _mm256_set1_epi32(bs[2 * l] + bs[2 * l + 1]));
      if constexpr (kKind == kQ6) {   // 32 · (sc[2l]·B[2l] + sc[2l+1]·B[2l+1]), one vpmaddwd
        const __m256i b = _mm256_set1_epi32(halves(bs[2 * l], bs[2 * l + 1]));
        const __m256i corr = _mm256_madd_epi16(halves(sc[2 * l], sc[2 * l + 1]), b);
        L = _mm256_sub_epi32(L, _mm256_slli_epi32(corr, 5));
      }
      if constexpr (kKind == kIq4Xs) whole = _mm256_add_epi32(whole, L);
      else acc[l] = _mm256_fmadd_ps(p, _mm256_cvtepi32_ps(L), acc[l]);
    }
    if constexpr (kKind == kIq4Xs) acc[0] = _mm256_fmadd_ps(p, _mm256_cvtepi32_ps(whole), acc[0]);
    if constexpr (kKind == kQ5) {   // Σ m_s · B32_s over pairs of sub-blocks (B32 ≤ 32 · 127)
      __m256i msum = _mm256_setzero_si256();
      for (int s = 0; s < 8; s += 2) {
        const int32_t* mn = w.imn.data() + (8 * sb + s) * kTileRows + 8 * g;
        const __m256i m = halves(load8i(mn), load8i(mn + kTileRows));
        const int32_t b = halves(bs[2 * s] + bs[2 * s + 1], bs[2 * s + 2] + bs[2 * s + 3]);
        msum = _mm256_add_epi32(msum, _mm256_madd_epi16(m, _mm256_set1_epi32(b)));
      }
      const __m256 dmin = _mm256_mul_ps(_mm256_set1_ps(da), _mm256_loadu_ps(w.dmsb.data() + sb * kTileRows + 8 * g));
      summs = _mm256_fmadd_ps(_mm256_cvtepi32_ps(msum), _mm256_xor_ps(dmin, _mm256_set1_ps(-0.0f)), summs);
    }
  }
  const __m256 y = reduce8(acc);   // = acc[0] for one lane
  return kKind == kQ5 ? _mm256_add_ps(y, summs) : y;
}

// Q2_K and Q4_K in the K8 order's group form (qtile.h: a half super-block of eight 16-element
// sub-blocks, or a pair of 32-element ones), eight rows and one token. A sub-block's pair sums
// add up in int16 (at most 8 quads · 2 · 15 · 127) before one vpmaddwd by its scale.
template <int S, int kGroup>
__m256 grouped_k8(const WeightTile& w, const ActPack& a, int64_t t, int g) {
  constexpr int kPer = 256 / S;
  const int64_t n = w.n, nsub = n / S;
  const int8_t* ac = a.codes.data() + t * n;
  const int32_t* B = a.bsum.data() + t * (n / 16);
  __m256 acc = _mm256_setzero_ps(), accm = _mm256_setzero_ps();
  for (int64_t sb = 0; sb < n / 256; ++sb) {
    const __m256 d = _mm256_set1_ps(a.da[t * nsub + kPer * sb]);
    const __m256 pd = _mm256_mul_ps(_mm256_loadu_ps(w.dsb.data() + sb * kTileRows + 8 * g), d);
    const __m256 pm = _mm256_mul_ps(_mm256_loadu_ps(w.dmsb.data() + sb * kTileRows + 8 * g), d);
    for (int g0 = 0; g0 < kPer; g0 += kGroup) {
      __m256i L = _mm256_setzero_si256(), M = _mm256_setzero_si256();
      int32_t bsub[kGroup];   // Σa per sub-block
      for (int s = g0; s < g0 + kGroup; ++s) {
        const int64_t e0 = 256 * sb + S * s;
        const uint8_t* wc = w.codes.data() + (e0 / 4) * 128 + 32 * g;
        __m256i x = _mm256_setzero_si256();
        for (int k = 0; k < S / 4; ++k)
          x = _mm256_add_epi16(x, pair_sums<false>(load32b(wc + 128 * k), _mm256_set1_epi32(rd32(ac + e0 + 4 * k))));
        const __m256i sc = load8i(w.isc.data() + (kPer * sb + s) * kTileRows + 8 * g);
        L = _mm256_add_epi32(L, _mm256_madd_epi16(x, halves(sc, sc)));
        bsub[s - g0] = S == 16 ? B[e0 / 16] : B[e0 / 16] + B[e0 / 16 + 1];
      }
      for (int s = g0; s < g0 + kGroup; s += 2) {   // the mins, two sub-blocks per vpmaddwd
        const int32_t* mn = w.imn.data() + (kPer * sb + s) * kTileRows + 8 * g;
        const __m256i m = halves(load8i(mn), load8i(mn + kTileRows));
        M = _mm256_add_epi32(M, _mm256_madd_epi16(m, _mm256_set1_epi32(halves(bsub[s - g0], bsub[s - g0 + 1]))));
      }
      acc = _mm256_fmadd_ps(_mm256_cvtepi32_ps(L), pd, acc);
      accm = _mm256_fmadd_ps(_mm256_cvtepi32_ps(M), pm, accm);
    }
  }
  return _mm256_sub_ps(acc, accm);
}

// One of the kernels above for every token and lane group.
template <typename Group>
void gemm_groups(Group group, int64_t t0, int64_t t1, float* Y, int64_t ldy, int64_t row0, int rows) {
  for (int64_t t = t0; t < t1; ++t)
    for (int g = 0; 8 * g < rows; ++g) store_rows(Y + t * ldy + row0 + 8 * g, group(t, g), rows - 8 * g);
}

void gemm_lane8(const TileFormat& f, const WeightTile& w, const ActPack& a, int64_t t0, int64_t t1, float* Y,
                int64_t ldy, int64_t row0, int rows) {
  auto run = [&](auto kernel) { gemm_groups([&](int64_t t, int g) { return kernel(w, a, t, g); }, t0, t1, Y, ldy, row0, rows); };
  if (f.mins) run(lane8_group<true, 0>);   // Q4_1, Q5_1
  else if (f.off == 128) run(lane8_group<false, 128>);   // Q8_0
  else run(lane8_group<false, 16>);   // Q5_0
}

void gemm_k8(const TileFormat& f, const WeightTile& w, const ActPack& a, int64_t t0, int64_t t1, float* Y,
             int64_t ldy, int64_t row0, int rows) {
  auto run = [&](auto kernel) { gemm_groups([&](int64_t t, int g) { return kernel(w, a, t, g); }, t0, t1, Y, ldy, row0, rows); };
  switch (f.wtype) {
    case GgmlType::Q2_K: return run(grouped_k8<16, 8>);
    case GgmlType::Q4_K: return run(grouped_k8<32, 2>);
    case GgmlType::Q6_K: return run(k8_group<kQ6>);
    case GgmlType::Q3_K: return run(k8_group<kQ3>);
    case GgmlType::IQ4_XS: return run(k8_group<kIq4Xs>);
    case GgmlType::TQ2_0: case GgmlType::TQ1_0: return run(k8_group<kTq2>);
    default: return run(k8_group<kQ5>);
  }
}

}  // namespace

void qtile_unpack__avx2(const TileFormat& f, const QMatrix& W, int64_t row0, WeightTile& tile) {
  unpack_tile_rows(f, W, row0, tile, interleave_plain);
}

void qtile_gemm__avx2(const TileFormat& f, const WeightTile& w, const ActPack& a, int64_t t0, int64_t t1, float* Y,
                      int64_t ldy, int64_t row0, int rows) {
  if (f.order == TileOrder::Lane8) return gemm_lane8(f, w, a, t0, t1, Y, ldy, row0, rows);
  if (f.order == TileOrder::K8) return gemm_k8(f, w, a, t0, t1, Y, ldy, row0, rows);
  const bool sgn = f.off == 128;
  // The Sub order (Q4_0, IQ4_NL), any sub-block size; no 16-element format has offset 128.
  if (w.sub == 16) {
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
