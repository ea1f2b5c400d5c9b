// AVX-512 (F, BW, VL, DQ, VNNI) legacy dot products; the references are in
// qdot_ref_legacy.cc, the AVX2 variants in qdot_legacy_avx2.cc.
//
// Block formats: two blocks per 512-bit register, block k in 128-bit lanes 2k, 2k+1 (elements
// 0..15, 16..31). _mm512_dpbusd_epi32 (u8 x s8, four products summed into int32, no
// saturation) gives sixteen exact partial sums, eight per block. Every weight code is made
// unsigned by a known offset: Q4_0 q (value q - 8), Q5_0 q (q - 16), Q8_0 w ^ 0x80 (w + 128),
// IQ4_NL a grid biased by +128; then sum (u - off) * a = dpbusd(u, a) - dpbusd(off, a), exact
// for every byte of both rows (no sign trick, so no -128 caveat as in the AVX2 file).
// Q5's fifth bits are a 64-bit mask register for two blocks: one masked byte add.
//
// Four blocks per iteration, their scales converted together (vcvtph2ps of the blocks' first
// four bytes) and spread over the lanes with vpermps; a 1..3 block tail runs through the same
// body from a zero-padded copy (d = 0 adds exactly nothing). Float rows use masked loads for
// their tails. Rows may sit at any byte address.

// GCC 12's avx512fintrin.h initialises its "undefined" vectors from themselves, which
// -Wuninitialized reports at every inlined cast/permute/convert (GCC bug 105593).
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#include <immintrin.h>

#include <cstring>

#include "kernels/qdot.h"
#include "quant/codecs/blocks.h"

namespace lowbit {
namespace {

inline uint32_t rd32(const uint8_t* p) { uint32_t v; std::memcpy(&v, p, 4); return v; }
inline __m128i ld128(const uint8_t* p) { return _mm_loadu_si128(reinterpret_cast<const __m128i*>(p)); }
inline __m256i ld256(const uint8_t* p) { return _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p)); }
inline __m512i ld512(const uint8_t* p) { return _mm512_loadu_si512(p); }

inline float hsum(__m256 v) {
  __m128 h = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  h = _mm_add_ps(h, _mm_movehl_ps(h, h));
  h = _mm_add_ss(h, _mm_movehdup_ps(h));
  return _mm_cvtss_f32(h);
}

// 32 bytes at p0 in the low half, 32 bytes at p1 in the high half.
inline __m512i ld2x256(const uint8_t* p0, const uint8_t* p1) {
  return _mm512_inserti64x4(_mm512_castsi256_si512(ld256(p0)), ld256(p1), 1);
}

// The nibbles of two blocks (16 bytes each at q0, q1) as 64 codes in element order:
// lanes [q0 & 15, q0 >> 4, q1 & 15, q1 >> 4].
inline __m512i nibbles64(const uint8_t* q0, const uint8_t* q1) {
  const __m512i z = _mm512_inserti64x4(_mm512_castsi256_si512(_mm256_broadcastsi128_si256(ld128(q0))),
                                       _mm256_broadcastsi128_si256(ld128(q1)), 1);
  return _mm512_and_si512(_mm512_mask_srli_epi16(z, 0xFF00FF00u, z, 4), _mm512_set1_epi8(0x0F));
}

// The fifth bits of two Q5 blocks (qh u32 at h0, h1): bit j of the mask = element j.
inline __mmask64 bits64(const uint8_t* h0, const uint8_t* h1) {
  return _cvtu64_mask64(static_cast<uint64_t>(rd32(h0)) | static_cast<uint64_t>(rd32(h1)) << 32);
}

inline __m512i dot(__m512i u, __m512i a) { return _mm512_dpbusd_epi32(_mm512_setzero_si512(), u, a); }
// sum (u - off) * a per 4 bytes.
inline __m512i dot_offset(__m512i u, __m512i a, char off) {
  return _mm512_sub_epi32(dot(u, a), dot(_mm512_set1_epi8(off), a));
}

// The u32 at p, p + stride, p + 2 stride, p + 3 stride: the first four bytes of four blocks,
// which hold d (and for Q4_1/Q5_1/Q8_1 the second f16, m or s).
template <int kStride>
inline __m128i heads4(const uint8_t* p) {
  return _mm_setr_epi32(static_cast<int>(rd32(p)), static_cast<int>(rd32(p + kStride)),
                        static_cast<int>(rd32(p + 2 * kStride)), static_cast<int>(rd32(p + 3 * kStride)));
}

// Scale products of four consecutive blocks, one or two vcvtph2ps for all their f16s. Lane 2k
// holds f16(d_w) * f16(d_a) of block k; with a min term, lane 2k + 1 holds f16(m_w) * f16(s_a).
// Without one, the code bytes above d are blended away before the conversion (no half made of
// code bytes, which may be subnormal, goes through the FPU).
template <int kW, int kA, bool kMin>
inline __m256 scales4(const uint8_t* w, const uint8_t* a) {
  const __m128i hw = heads4<kW>(w), ha = heads4<kA>(a);
  if constexpr (kMin) return _mm256_mul_ps(_mm256_cvtph_ps(hw), _mm256_cvtph_ps(ha));
  // [d_w0, d_a0, d_w1, d_a1, ...]: the weight's d in the low half of each u32, the activation's above.
  const __m256 f = _mm256_cvtph_ps(_mm_blend_epi16(hw, _mm_slli_epi32(ha, 16), 0xAA));
  return _mm256_mul_ps(f, _mm256_movehdup_ps(f));
}

// Per weight type: block bytes, activation block bytes, whether there is a min term (f16 at
// offset 2 of both blocks), and isum2: sixteen int32 partial sums of blocks (w, a) and
// (w + kW, a + kA), eight each.
struct Q4_0 {
  static constexpr int kW = sizeof(BlockQ4_0), kA = sizeof(BlockQ8_0);
  static constexpr bool kMin = false;
  static __m512i isum2(const uint8_t* w, const uint8_t* a) {
    return dot_offset(nibbles64(w + 2, w + kW + 2), ld2x256(a + 2, a + kA + 2), 8);
  }
};

struct Q4_1 {
  static constexpr int kW = sizeof(BlockQ4_1), kA = sizeof(BlockQ8_1);
  static constexpr bool kMin = true;
  static __m512i isum2(const uint8_t* w, const uint8_t* a) {
    return dot(nibbles64(w + 4, w + kW + 4), ld2x256(a + 4, a + kA + 4));
  }
};

struct Q5_0 {
  static constexpr int kW = sizeof(BlockQ5_0), kA = sizeof(BlockQ8_0);
  static constexpr bool kMin = false;
  static __m512i isum2(const uint8_t* w, const uint8_t* a) {
    const __m512i q = nibbles64(w + 6, w + kW + 6);
    const __m512i u = _mm512_mask_add_epi8(q, bits64(w + 2, w + kW + 2), q, _mm512_set1_epi8(16));
    return dot_offset(u, ld2x256(a + 2, a + kA + 2), 16);
  }
};

struct Q5_1 {
  static constexpr int kW = sizeof(BlockQ5_1), kA = sizeof(BlockQ8_1);
  static constexpr bool kMin = true;
  static __m512i isum2(const uint8_t* w, const uint8_t* a) {
    const __m512i q = nibbles64(w + 8, w + kW + 8);
    const __m512i u = _mm512_mask_add_epi8(q, bits64(w + 4, w + kW + 4), q, _mm512_set1_epi8(16));
    return dot(u, ld2x256(a + 4, a + kA + 4));
  }
};

struct Q8_0 {
  static constexpr int kW = sizeof(BlockQ8_0), kA = sizeof(BlockQ8_0);
  static constexpr bool kMin = false;
  static __m512i isum2(const uint8_t* w, const uint8_t* a) {
    const __m512i u = _mm512_xor_si512(ld2x256(w + 2, w + kW + 2), _mm512_set1_epi8(static_cast<char>(0x80)));
    return dot_offset(u, ld2x256(a + 2, a + kA + 2), static_cast<char>(0x80));
  }
};

// kIq4nlValues + 128, so the looked-up code is unsigned (1..241).
alignas(16) constexpr uint8_t kIq4nlBiased[16] = {1, 24, 45, 63, 79, 93, 106, 118, 129, 141, 153, 166, 181, 197, 217, 241};
static_assert(kIq4nlBiased[0] == kIq4nlValues[0] + 128 && kIq4nlBiased[15] == kIq4nlValues[15] + 128);

struct Iq4Nl {
  static constexpr int kW = sizeof(BlockIq4Nl), kA = sizeof(BlockQ8_0);
  static constexpr bool kMin = false;
  static __m512i isum2(const uint8_t* w, const uint8_t* a) {
    const __m512i grid = _mm512_broadcast_i32x4(ld128(kIq4nlBiased));
    const __m512i u = _mm512_shuffle_epi8(grid, nibbles64(w + 2, w + kW + 2));
    return dot_offset(u, ld2x256(a + 2, a + kA + 2), static_cast<char>(0x80));
  }
};

template <class K>
inline void four_blocks(const uint8_t* w, const uint8_t* a, __m512* acc0, __m512* acc1, __m256* accm) {
  const __m256 p = scales4<K::kW, K::kA, K::kMin>(w, a);
  const __m512 pz = _mm512_castps256_ps512(p);
  const __m512 d01 = _mm512_permutexvar_ps(_mm512_set_epi32(2, 2, 2, 2, 2, 2, 2, 2, 0, 0, 0, 0, 0, 0, 0, 0), pz);
  const __m512 d23 = _mm512_permutexvar_ps(_mm512_set_epi32(6, 6, 6, 6, 6, 6, 6, 6, 4, 4, 4, 4, 4, 4, 4, 4), pz);
  *acc0 = _mm512_fmadd_ps(d01, _mm512_cvtepi32_ps(K::isum2(w, a)), *acc0);
  *acc1 = _mm512_fmadd_ps(d23, _mm512_cvtepi32_ps(K::isum2(w + 2 * K::kW, a + 2 * K::kA)), *acc1);
  if constexpr (K::kMin) *accm = _mm256_add_ps(*accm, p);  // odd lanes: m_w * s_a
}

template <class K>
float dot_blocks(int64_t n, const void* vw, const void* va) {
  const auto* w = static_cast<const uint8_t*>(vw);
  const auto* a = static_cast<const uint8_t*>(va);
  const int64_t nb = n / kQK32;
  __m512 acc0 = _mm512_setzero_ps(), acc1 = _mm512_setzero_ps();
  __m256 accm = _mm256_setzero_ps();
  int64_t i = 0;
  for (; i + 4 <= nb; i += 4) four_blocks<K>(w + i * K::kW, a + i * K::kA, &acc0, &acc1, &accm);
  if (i < nb) {
    uint8_t tw[4 * K::kW] = {}, ta[4 * K::kA] = {};
    std::memcpy(tw, w + i * K::kW, static_cast<size_t>((nb - i) * K::kW));
    std::memcpy(ta, a + i * K::kA, static_cast<size_t>((nb - i) * K::kA));
    four_blocks<K>(tw, ta, &acc0, &acc1, &accm);
  }
  float s = _mm512_reduce_add_ps(_mm512_add_ps(acc0, acc1));
  if constexpr (K::kMin) s += hsum(_mm256_blend_ps(_mm256_setzero_ps(), accm, 0xAA));
  return s;
}

}  // namespace

float dot_q4_0_q8_0__avx512(int64_t n, const void* w, const void* a) { return dot_blocks<Q4_0>(n, w, a); }
float dot_q4_1_q8_1__avx512(int64_t n, const void* w, const void* a) { return dot_blocks<Q4_1>(n, w, a); }
float dot_q5_0_q8_0__avx512(int64_t n, const void* w, const void* a) { return dot_blocks<Q5_0>(n, w, a); }
float dot_q5_1_q8_1__avx512(int64_t n, const void* w, const void* a) { return dot_blocks<Q5_1>(n, w, a); }
float dot_q8_0_q8_0__avx512(int64_t n, const void* w, const void* a) { return dot_blocks<Q8_0>(n, w, a); }
float dot_iq4_nl_q8_0__avx512(int64_t n, const void* w, const void* a) { return dot_blocks<Iq4Nl>(n, w, a); }

// Float rows: four accumulators of sixteen, masked loads for the last < 16 elements.
float dot_f32_f32__avx512(int64_t n, const void* vw, const void* va) {
  const auto* w = static_cast<const uint8_t*>(vw);
  const auto* a = static_cast<const uint8_t*>(va);
  auto fma16 = [&](int64_t k, __m512 acc) {
    return _mm512_fmadd_ps(_mm512_loadu_ps(w + 4 * k), _mm512_loadu_ps(a + 4 * k), acc);
  };
  __m512 s0 = _mm512_setzero_ps(), s1 = s0, s2 = s0, s3 = s0;
  int64_t i = 0;
  for (; i + 64 <= n; i += 64) {
    s0 = fma16(i, s0);
    s1 = fma16(i + 16, s1);
    s2 = fma16(i + 32, s2);
    s3 = fma16(i + 48, s3);
  }
  for (; i + 16 <= n; i += 16) s0 = fma16(i, s0);
  if (i < n) {
    const __mmask16 m = static_cast<__mmask16>((1u << (n - i)) - 1);
    s1 = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(m, w + 4 * i), _mm512_maskz_loadu_ps(m, a + 4 * i), s1);
  }
  return _mm512_reduce_add_ps(_mm512_add_ps(_mm512_add_ps(s0, s1), _mm512_add_ps(s2, s3)));
}

// F16: 256-bit conversions (a 512-bit vcvtph2ps has half the throughput of two 256-bit ones on
// Zen 4 and no more on Intel), eight accumulators of eight, a masked tail.
float dot_f16_f16__avx512(int64_t n, const void* vw, const void* va) {
  const auto* w = static_cast<const uint8_t*>(vw);
  const auto* a = static_cast<const uint8_t*>(va);
  auto fma8 = [&](int64_t k, __m256 acc) {
    return _mm256_fmadd_ps(_mm256_cvtph_ps(ld128(w + 2 * k)), _mm256_cvtph_ps(ld128(a + 2 * k)), acc);
  };
  __m256 s0 = _mm256_setzero_ps(), s1 = s0, s2 = s0, s3 = s0;
  int64_t i = 0;
  for (; i + 32 <= n; i += 32) {
    s0 = fma8(i, s0);
    s1 = fma8(i + 8, s1);
    s2 = fma8(i + 16, s2);
    s3 = fma8(i + 24, s3);
  }
  for (; i + 8 <= n; i += 8) s0 = fma8(i, s0);
  if (i < n) {
    const __mmask8 m = static_cast<__mmask8>((1u << (n - i)) - 1);
    s1 = _mm256_fmadd_ps(_mm256_cvtph_ps(_mm_maskz_loadu_epi16(m, w + 2 * i)),
                         _mm256_cvtph_ps(_mm_maskz_loadu_epi16(m, a + 2 * i)), s1);
  }
  return hsum(_mm256_add_ps(_mm256_add_ps(s0, s1), _mm256_add_ps(s2, s3)));
}

// BF16 -> F32 is a 16-bit shift: the even elements of each u32 pair shifted up, the odd ones
// masked in place. Even pairs with even and odd with odd, so the products match.
float dot_bf16_bf16__avx512(int64_t n, const void* vw, const void* va) {
  const auto* w = static_cast<const uint8_t*>(vw);
  const auto* a = static_cast<const uint8_t*>(va);
  const __m512i hi = _mm512_set1_epi32(static_cast<int>(0xFFFF0000u));
  __m512 s0 = _mm512_setzero_ps(), s1 = s0, s2 = s0, s3 = s0;
  auto fma32 = [&](__m512i x, __m512i y, __m512* even, __m512* odd) {
    *even = _mm512_fmadd_ps(_mm512_castsi512_ps(_mm512_slli_epi32(x, 16)), _mm512_castsi512_ps(_mm512_slli_epi32(y, 16)), *even);
    *odd = _mm512_fmadd_ps(_mm512_castsi512_ps(_mm512_and_si512(x, hi)), _mm512_castsi512_ps(_mm512_and_si512(y, hi)), *odd);
  };
  int64_t i = 0;
  for (; i + 64 <= n; i += 64) {
    fma32(ld512(w + 2 * i), ld512(a + 2 * i), &s0, &s1);
    fma32(ld512(w + 2 * i + 64), ld512(a + 2 * i + 64), &s2, &s3);
  }
  for (; i + 32 <= n; i += 32) fma32(ld512(w + 2 * i), ld512(a + 2 * i), &s0, &s1);
  if (i < n) {
    const __mmask32 m = static_cast<__mmask32>((1ull << (n - i)) - 1);
    fma32(_mm512_maskz_loadu_epi16(m, w + 2 * i), _mm512_maskz_loadu_epi16(m, a + 2 * i), &s2, &s3);
  }
  return _mm512_reduce_add_ps(_mm512_add_ps(_mm512_add_ps(s0, s1), _mm512_add_ps(s2, s3)));
}

}  // namespace lowbit
