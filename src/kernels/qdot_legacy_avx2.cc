// AVX2 (+FMA, F16C) legacy dot products; the references are in qdot_ref_legacy.cc.
//
// Block formats: one block per 256-bit register. Codes become 32 bytes in element order,
// _mm256_maddubs_epi16 (u8 x s8 -> pairs of i16) and _mm256_madd_epi16 by 1 give eight exact
// int32 partial sums, which are converted to float and scaled by d_w * d_a with one FMA.
// Offset formats (Q4_0: q - 8, Q5_0: q - 16) multiply the unsigned code and subtract
// offset * sum(a), which is exact for every activation byte. Signed codes (Q8_0, IQ4_NL) use
// ggml's sign trick |w| * (a * sign(w)); that is exact whenever an activation byte is not
// -128, which Q8_0/Q8_1 quantization never writes (codes are round(x / (amax/127))).
//
// Four blocks per iteration: their f16 scales (and mins) are converted with one or two
// vcvtph2ps from the blocks' first four bytes, and a row tail of 1..3 blocks is copied into a
// zero-padded buffer (d = 0 adds exactly nothing), so there is one loop body. Rows may sit at
// any byte address.
#include <immintrin.h>

#include <cstring>

#include "core/half.h"
#include "kernels/qdot.h"
#include "quant/codecs/blocks.h"

namespace lowbit {
namespace {

inline uint16_t rd16(const uint8_t* p) { uint16_t v; std::memcpy(&v, p, 2); return v; }
inline uint32_t rd32(const uint8_t* p) { uint32_t v; std::memcpy(&v, p, 4); return v; }
inline __m128i ld128(const uint8_t* p) { return _mm_loadu_si128(reinterpret_cast<const __m128i*>(p)); }
inline __m256i ld256(const uint8_t* p) { return _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p)); }

inline float hsum(__m256 v) {
  __m128 h = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  h = _mm_add_ps(h, _mm_movehl_ps(h, h));
  h = _mm_add_ss(h, _mm_movehdup_ps(h));
  return _mm_cvtss_f32(h);
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

// 16 bytes of nibbles -> 32 codes in element order (byte j: low = element j, high = j + 16).
inline __m256i nibbles32(const uint8_t* qs) {
  const __m128i t = ld128(qs);
  return _mm256_and_si256(_mm256_set_m128i(_mm_srli_epi16(t, 4), t), _mm256_set1_epi8(0x0F));
}

// Byte j = 0xFF where bit j of the little-endian u32 at p is set, else 0.
inline __m256i bits32(const uint8_t* p) {
  const __m256i shuf = _mm256_set_epi64x(0x0303030303030303, 0x0202020202020202, 0x0101010101010101, 0);
  const __m256i b = _mm256_shuffle_epi8(_mm256_set1_epi32(static_cast<int>(rd32(p))), shuf);
  return _mm256_cmpeq_epi8(_mm256_or_si256(b, _mm256_set1_epi64x(0x7fbfdfeff7fbfdfe)), _mm256_set1_epi64x(-1));
}

inline __m256i sum_pairs(__m256i p16) { return _mm256_madd_epi16(p16, _mm256_set1_epi16(1)); }

// sum (u - off) * a per 4 bytes, u in 0..31 unsigned: exact for every a.
inline __m256i dot_offset(__m256i u, __m256i a, char off) {
  return sum_pairs(_mm256_sub_epi16(_mm256_maddubs_epi16(u, a), _mm256_maddubs_epi16(_mm256_set1_epi8(off), a)));
}

// sum w * a per 4 bytes, both signed (exact unless an a byte is -128 where w < 0).
inline __m256i dot_signed(__m256i w, __m256i a) {
  return sum_pairs(_mm256_maddubs_epi16(_mm256_sign_epi8(w, w), _mm256_sign_epi8(a, w)));
}

// One struct per weight type: block bytes, activation block bytes, offset of the codes in the
// activation block, whether there is a min term (f16 at offset 2 of both blocks), and isum:
// eight int32 partial sums of one block's code products.
struct Q4_0 {
  static constexpr int kW = sizeof(BlockQ4_0), kA = sizeof(BlockQ8_0), kAq = 2;
  static constexpr bool kMin = false;
  static __m256i isum(const uint8_t* w, const uint8_t* a) { return dot_offset(nibbles32(w + 2), ld256(a + kAq), 8); }
};

struct Q4_1 {
  static constexpr int kW = sizeof(BlockQ4_1), kA = sizeof(BlockQ8_1), kAq = 4;
  static constexpr bool kMin = true;
  static __m256i isum(const uint8_t* w, const uint8_t* a) {
    return sum_pairs(_mm256_maddubs_epi16(nibbles32(w + 4), ld256(a + kAq)));
  }
};

struct Q5_0 {
  static constexpr int kW = sizeof(BlockQ5_0), kA = sizeof(BlockQ8_0), kAq = 2;
  static constexpr bool kMin = false;
  static __m256i isum(const uint8_t* w, const uint8_t* a) {
    const __m256i u = _mm256_or_si256(nibbles32(w + 6), _mm256_and_si256(bits32(w + 2), _mm256_set1_epi8(0x10)));
    return dot_offset(u, ld256(a + kAq), 16);
  }
};

struct Q5_1 {
  static constexpr int kW = sizeof(BlockQ5_1), kA = sizeof(BlockQ8_1), kAq = 4;
  static constexpr bool kMin = true;
  static __m256i isum(const uint8_t* w, const uint8_t* a) {
    const __m256i u = _mm256_or_si256(nibbles32(w + 8), _mm256_and_si256(bits32(w + 4), _mm256_set1_epi8(0x10)));
    return sum_pairs(_mm256_maddubs_epi16(u, ld256(a + kAq)));
  }
};

struct Q8_0 {
  static constexpr int kW = sizeof(BlockQ8_0), kA = sizeof(BlockQ8_0), kAq = 2;
  static constexpr bool kMin = false;
  static __m256i isum(const uint8_t* w, const uint8_t* a) { return dot_signed(ld256(w + 2), ld256(a + kAq)); }
};

struct Iq4Nl {
  static constexpr int kW = sizeof(BlockIq4Nl), kA = sizeof(BlockQ8_0), kAq = 2;
  static constexpr bool kMin = false;
  static __m256i isum(const uint8_t* w, const uint8_t* a) {
    const __m256i grid = _mm256_broadcastsi128_si256(ld128(reinterpret_cast<const uint8_t*>(kIq4nlValues)));
    return dot_signed(_mm256_shuffle_epi8(grid, nibbles32(w + 2)), ld256(a + kAq));
  }
};

template <class K>
inline void four_blocks(const uint8_t* w, const uint8_t* a, __m256* acc0, __m256* acc1, __m256* accm) {
  const __m256 p = scales4<K::kW, K::kA, K::kMin>(w, a);
  auto lane = [&](int k) { return _mm256_permutevar8x32_ps(p, _mm256_set1_epi32(k)); };
  *acc0 = _mm256_fmadd_ps(lane(0), _mm256_cvtepi32_ps(K::isum(w, a)), *acc0);
  *acc1 = _mm256_fmadd_ps(lane(2), _mm256_cvtepi32_ps(K::isum(w + K::kW, a + K::kA)), *acc1);
  *acc0 = _mm256_fmadd_ps(lane(4), _mm256_cvtepi32_ps(K::isum(w + 2 * K::kW, a + 2 * K::kA)), *acc0);
  *acc1 = _mm256_fmadd_ps(lane(6), _mm256_cvtepi32_ps(K::isum(w + 3 * K::kW, a + 3 * K::kA)), *acc1);
  if constexpr (K::kMin) *accm = _mm256_add_ps(*accm, p);  // odd lanes: m_w * s_a
}

template <class K>
float dot_blocks(int64_t n, const void* vw, const void* va) {
  const auto* w = static_cast<const uint8_t*>(vw);
  const auto* a = static_cast<const uint8_t*>(va);
  const int64_t nb = n / kQK32;
  __m256 acc0 = _mm256_setzero_ps(), acc1 = _mm256_setzero_ps(), accm = _mm256_setzero_ps();
  int64_t i = 0;
  for (; i + 4 <= nb; i += 4) four_blocks<K>(w + i * K::kW, a + i * K::kA, &acc0, &acc1, &accm);
  if (i < nb) {
    uint8_t tw[4 * K::kW] = {}, ta[4 * K::kA] = {};
    std::memcpy(tw, w + i * K::kW, static_cast<size_t>((nb - i) * K::kW));
    std::memcpy(ta, a + i * K::kA, static_cast<size_t>((nb - i) * K::kA));
    four_blocks<K>(tw, ta, &acc0, &acc1, &accm);
  }
  float s = hsum(_mm256_add_ps(acc0, acc1));
  if constexpr (K::kMin) s += hsum(_mm256_blend_ps(_mm256_setzero_ps(), accm, 0xAA));
  return s;
}

}  // namespace

float dot_q4_0_q8_0__avx2(int64_t n, const void* w, const void* a) { return dot_blocks<Q4_0>(n, w, a); }
float dot_q4_1_q8_1__avx2(int64_t n, const void* w, const void* a) { return dot_blocks<Q4_1>(n, w, a); }
float dot_q5_0_q8_0__avx2(int64_t n, const void* w, const void* a) { return dot_blocks<Q5_0>(n, w, a); }
float dot_q5_1_q8_1__avx2(int64_t n, const void* w, const void* a) { return dot_blocks<Q5_1>(n, w, a); }
float dot_q8_0_q8_0__avx2(int64_t n, const void* w, const void* a) { return dot_blocks<Q8_0>(n, w, a); }
float dot_iq4_nl_q8_0__avx2(int64_t n, const void* w, const void* a) { return dot_blocks<Iq4Nl>(n, w, a); }

// Float rows: four independent accumulators (FMA latency), products summed in float; the
// scalar tail adds in double like the reference.
float dot_f32_f32__avx2(int64_t n, const void* vw, const void* va) {
  const auto* w = static_cast<const uint8_t*>(vw);  // byte pointers: rows may be unaligned
  const auto* a = static_cast<const uint8_t*>(va);
  auto fma8 = [&](int64_t k, __m256 acc) {
    return _mm256_fmadd_ps(_mm256_loadu_ps(reinterpret_cast<const float*>(w + 4 * k)),
                           _mm256_loadu_ps(reinterpret_cast<const float*>(a + 4 * k)), acc);
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
  double s = hsum(_mm256_add_ps(_mm256_add_ps(s0, s1), _mm256_add_ps(s2, s3)));
  for (; i < n; ++i) {
    float x, y;
    std::memcpy(&x, w + 4 * i, 4);
    std::memcpy(&y, a + 4 * i, 4);
    s += static_cast<double>(x * y);
  }
  return static_cast<float>(s);
}

float dot_f16_f16__avx2(int64_t n, const void* vw, const void* va) {
  const auto* w = static_cast<const uint8_t*>(vw);
  const auto* a = static_cast<const uint8_t*>(va);
  __m256 s0 = _mm256_setzero_ps(), s1 = s0, s2 = s0, s3 = s0;
  int64_t i = 0;
  auto fma8 = [&](int64_t k, __m256 acc) {
    return _mm256_fmadd_ps(_mm256_cvtph_ps(ld128(w + 2 * k)), _mm256_cvtph_ps(ld128(a + 2 * k)), acc);
  };
  for (; i + 32 <= n; i += 32) {
    s0 = fma8(i, s0);
    s1 = fma8(i + 8, s1);
    s2 = fma8(i + 16, s2);
    s3 = fma8(i + 24, s3);
  }
  for (; i + 8 <= n; i += 8) s0 = fma8(i, s0);
  double s = hsum(_mm256_add_ps(_mm256_add_ps(s0, s1), _mm256_add_ps(s2, s3)));
  for (; i < n; ++i) s += static_cast<double>(f16_to_f32(rd16(w + 2 * i)) * f16_to_f32(rd16(a + 2 * i)));
  return static_cast<float>(s);
}

// BF16 -> F32 is a 16-bit shift: the even elements of each u32 pair shifted up, the odd ones
// masked in place. Even pairs with even and odd with odd, so the products match.
float dot_bf16_bf16__avx2(int64_t n, const void* vw, const void* va) {
  const auto* w = static_cast<const uint8_t*>(vw);
  const auto* a = static_cast<const uint8_t*>(va);
  const __m256i hi = _mm256_set1_epi32(static_cast<int>(0xFFFF0000u));
  __m256 s0 = _mm256_setzero_ps(), s1 = s0, s2 = s0, s3 = s0;
  auto fma16 = [&](int64_t k, __m256* even, __m256* odd) {
    const __m256i x = ld256(w + 2 * k), y = ld256(a + 2 * k);
    *even = _mm256_fmadd_ps(_mm256_castsi256_ps(_mm256_slli_epi32(x, 16)), _mm256_castsi256_ps(_mm256_slli_epi32(y, 16)), *even);
    *odd = _mm256_fmadd_ps(_mm256_castsi256_ps(_mm256_and_si256(x, hi)), _mm256_castsi256_ps(_mm256_and_si256(y, hi)), *odd);
  };
  int64_t i = 0;
  for (; i + 32 <= n; i += 32) {
    fma16(i, &s0, &s1);
    fma16(i + 16, &s2, &s3);
  }
  for (; i + 16 <= n; i += 16) fma16(i, &s0, &s1);
  double s = hsum(_mm256_add_ps(_mm256_add_ps(s0, s1), _mm256_add_ps(s2, s3)));
  for (; i < n; ++i) s += static_cast<double>(bf16_to_f32(rd16(w + 2 * i)) * bf16_to_f32(rd16(a + 2 * i)));
  return static_cast<float>(s);
}

}  // namespace lowbit
