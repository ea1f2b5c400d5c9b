// The reduce16 tree (ggml_math.h) on one 512-bit vector, for the AVX-512 files only: halves of 8,
// then 4, then (0 + 2, 1 + 3), then 0 + 1 — _mm512_reduce_add_ps as GCC expands it.
#pragma once

#include <immintrin.h>

namespace lowbit {

inline float hsum16_tree(__m512 v) {
  const __m256 b = _mm256_add_ps(_mm512_castps512_ps256(v), _mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(v), 1)));
  const __m128 c = _mm_add_ps(_mm256_castps256_ps128(b), _mm256_extractf128_ps(b, 1));
  const __m128 e = _mm_add_ps(c, _mm_permute_ps(c, 0x4e));
  return _mm_cvtss_f32(_mm_add_ss(e, _mm_movehdup_ps(e)));
}

}  // namespace lowbit
