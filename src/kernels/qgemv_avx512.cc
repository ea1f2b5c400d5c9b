// AVX-512 VNNI decode kernel (qtile.h: qgemv) for Q4_0, IQ4_NL and Q8_0: one weight
// row against a token whose activations were packed once (ActPack: codes contiguous, per block
// d and init = −off·Σa). Compared with the row-by-row dot kernel (qdot_legacy_avx512.cc) the
// activations are one 512-bit load per two blocks with no offset product (the offset term is
// d_w·d_a·init, four blocks per fma), so a pair of blocks costs the nibble unpack, one vpdpbusd,
// a conversion and an fma (Q8_0: codes + 128 by one xor). The reference is the dot kernels'
// (dot_q4_0_q8_0__ref, ...): the same integer sums per block, summed in another float order.

// GCC 12's avx512fintrin.h initialises its "undefined" vectors from themselves (bug 105593).
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#include <immintrin.h>

#include <cstring>

#include "kernels/qtile.h"
#include "quant/codecs/blocks.h"

namespace lowbit {
namespace {

enum class Kind { Q4_0, Iq4Nl, Q8_0 };
template <Kind K>
constexpr int kW = K == Kind::Q8_0 ? sizeof(BlockQ8_0) : sizeof(BlockQ4_0);
static_assert(sizeof(BlockIq4Nl) == sizeof(BlockQ4_0));

inline uint32_t rd32(const uint8_t* p) { uint32_t v; std::memcpy(&v, p, 4); return v; }
inline __m128i ld128(const uint8_t* p) { return _mm_loadu_si128(reinterpret_cast<const __m128i*>(p)); }

// The nibbles of two blocks (qs at q0, q1) as 64 codes in element order.
inline __m512i nibbles64(const uint8_t* q0, const uint8_t* q1) {
  const __m512i z = _mm512_inserti64x4(_mm512_castsi256_si512(_mm256_broadcastsi128_si256(ld128(q0))),
                                       _mm256_broadcastsi128_si256(ld128(q1)), 1);
  return _mm512_and_si512(_mm512_mask_srli_epi16(z, 0xFF00FF00u, z, 4), _mm512_set1_epi8(0x0F));
}

// Two Q8_0 blocks' codes + 128 (unsigned), in element order.
inline __m512i codes64_q8(const uint8_t* q0, const uint8_t* q1) {
  const __m512i z = _mm512_inserti64x4(_mm512_castsi256_si512(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(q0))),
                                       _mm256_loadu_si256(reinterpret_cast<const __m256i*>(q1)), 1);
  return _mm512_xor_si512(z, _mm512_set1_epi8(static_cast<char>(0x80)));
}

// d of four consecutive blocks as floats.
template <int kStride>
inline __m128 scales4(const uint8_t* w) {
  const __m128i h = _mm_setr_epi32(static_cast<int>(rd32(w)), static_cast<int>(rd32(w + kStride)),
                                   static_cast<int>(rd32(w + 2 * kStride)), static_cast<int>(rd32(w + 3 * kStride)));
  return _mm_cvtph_ps(_mm_shuffle_epi8(h, _mm_setr_epi8(0, 1, 4, 5, 8, 9, 12, 13, -1, -1, -1, -1, -1, -1, -1, -1)));
}

template <Kind K>
inline void four_blocks(const uint8_t* w, const int8_t* a, const float* da, const int32_t* init, __m512* acc0,
                        __m512* acc1, __m128* accc) {
  constexpr int kB = kW<K>;
  const __m128 p = _mm_mul_ps(scales4<kB>(w), _mm_loadu_ps(da));
  *accc = _mm_fmadd_ps(p, _mm_cvtepi32_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(init))), *accc);
  const __m512 pz = _mm512_castps128_ps512(p);
  const __m512 d01 = _mm512_permutexvar_ps(_mm512_set_epi32(1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0), pz);
  const __m512 d23 = _mm512_permutexvar_ps(_mm512_set_epi32(3, 3, 3, 3, 3, 3, 3, 3, 2, 2, 2, 2, 2, 2, 2, 2), pz);
  __m512i z0, z1;
  if constexpr (K == Kind::Q8_0) {
    z0 = codes64_q8(w + 2, w + kB + 2);
    z1 = codes64_q8(w + 2 * kB + 2, w + 3 * kB + 2);
  } else {
    z0 = nibbles64(w + 2, w + kB + 2);
    z1 = nibbles64(w + 2 * kB + 2, w + 3 * kB + 2);
  }
  if constexpr (K == Kind::Iq4Nl) {
    const __m512i grid = _mm512_broadcast_i32x4(_mm_setr_epi8(1, 24, 45, 63, 79, 93, 106, 118, static_cast<char>(129),
                                                              static_cast<char>(141), static_cast<char>(153),
                                                              static_cast<char>(166), static_cast<char>(181),
                                                              static_cast<char>(197), static_cast<char>(217),
                                                              static_cast<char>(241)));
    z0 = _mm512_shuffle_epi8(grid, z0);
    z1 = _mm512_shuffle_epi8(grid, z1);
  }
  const __m512i i0 = _mm512_dpbusd_epi32(_mm512_setzero_si512(), z0, _mm512_loadu_si512(a));
  const __m512i i1 = _mm512_dpbusd_epi32(_mm512_setzero_si512(), z1, _mm512_loadu_si512(a + 64));
  *acc0 = _mm512_fmadd_ps(_mm512_cvtepi32_ps(i0), d01, *acc0);
  *acc1 = _mm512_fmadd_ps(_mm512_cvtepi32_ps(i1), d23, *acc1);
}

template <Kind K>
float row_dot(const uint8_t* w, int64_t nb, const int8_t* a, const float* da, const int32_t* init) {
  __m512 acc0 = _mm512_setzero_ps(), acc1 = _mm512_setzero_ps();
  __m128 accc = _mm_setzero_ps();
  int64_t b = 0;
  constexpr int kB = kW<K>;
  for (; b + 4 <= nb; b += 4) four_blocks<K>(w + b * kB, a + 32 * b, da + b, init + b, &acc0, &acc1, &accc);
  if (b < nb) {   // 1..3 blocks through the same body from zero-padded copies (d = 0 adds 0)
    alignas(64) int8_t ta[128] = {};
    uint8_t tw[4 * kB] = {};
    float td[4] = {};
    int32_t ti[4] = {};
    const size_t k = static_cast<size_t>(nb - b);
    std::memcpy(tw, w + b * kB, k * kB);
    std::memcpy(ta, a + 32 * b, k * 32);
    std::memcpy(td, da + b, k * 4);
    std::memcpy(ti, init + b, k * 4);
    four_blocks<K>(tw, ta, td, ti, &acc0, &acc1, &accc);
  }
  __m128 c = _mm_add_ps(accc, _mm_movehl_ps(accc, accc));
  c = _mm_add_ss(c, _mm_movehdup_ps(c));
  return _mm512_reduce_add_ps(_mm512_add_ps(acc0, acc1)) + _mm_cvtss_f32(c);
}

}  // namespace

void qgemv_rows__avx512(const QMatrix& W, const ActPack& a, int64_t t, int64_t o0, int64_t o1, float* y) {
  const int64_t nb = W.in / 32;
  const int8_t* ac = a.codes.data() + t * W.in;
  const float* da = a.da.data() + t * nb;
  const int32_t* init = a.init.data() + t * nb;
  for (int64_t o = o0; o < o1; ++o) {
    const uint8_t* w = W.data + o * W.row_bytes;
    switch (W.type) {
      case GgmlType::IQ4_NL: y[o] = row_dot<Kind::Iq4Nl>(w, nb, ac, da, init); break;
      case GgmlType::Q8_0: y[o] = row_dot<Kind::Q8_0>(w, nb, ac, da, init); break;
      default: y[o] = row_dot<Kind::Q4_0>(w, nb, ac, da, init); break;
    }
  }
}

}  // namespace lowbit
