// AVX2 variant of fgemm.h, for CPUs without AVX512_BF16 (and without AVX-512): the sixteen lanes
// as two 256-bit halves. F16: vcvtph2ps + fma, as tinyBLAS. BF16: vdpbf16ps emulated — per 32
// elements, lane m takes (lane + w·x at 2m + 1) then + w·x at 2m, each product exact (bf16 ×
// bf16 fits a float), each sum rounded once with denormal inputs and results flushed to signed
// zero (the instruction's fixed DAZ/FTZ). Bit-identical to fgemm_dot__ref (fgemm_test).
#include <immintrin.h>

#include <cfloat>

#include "kernels/fgemm.h"

namespace lowbit {
namespace {

// reduce16 (ggml_math.h) of lanes 0..7 in lo and 8..15 in hi.
inline float reduce16(__m256 lo, __m256 hi) {
  const __m256 b = _mm256_add_ps(lo, hi);
  const __m128 c = _mm_add_ps(_mm256_castps256_ps128(b), _mm256_extractf128_ps(b, 1));
  const __m128 e = _mm_add_ps(c, _mm_permute_ps(c, 0x4e));
  return _mm_cvtss_f32(_mm_add_ss(e, _mm_movehdup_ps(e)));
}

// Subnormal lanes to a zero of the same sign.
inline __m256 flush(__m256 v) {
  const __m256 sign = _mm256_set1_ps(-0.0f);
  const __m256 tiny = _mm256_cmp_ps(_mm256_andnot_ps(sign, v), _mm256_set1_ps(FLT_MIN), _CMP_LT_OQ);
  return _mm256_blendv_ps(v, _mm256_and_ps(v, sign), tiny);
}

float dot_f16(const uint16_t* w, const uint16_t* x, int64_t n) {
  __m256 lo = _mm256_setzero_ps(), hi = _mm256_setzero_ps();
  for (int64_t k = 0; k < n; k += 16) {
    auto h = [](const uint16_t* p) { return _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p))); };
    lo = _mm256_fmadd_ps(h(w + k), h(x + k), lo);
    hi = _mm256_fmadd_ps(h(w + k + 8), h(x + k + 8), hi);
  }
  return reduce16(lo, hi);
}

// Eight lanes (elements 2m, 2m + 1 of one 16-element half): the bf16 pairs of eight dwords.
inline __m256 dp_half(__m256 acc, __m256i w, __m256i x) {
  const __m256i high = _mm256_set1_epi32(static_cast<int>(0xFFFF0000u));
  const __m256 wo = flush(_mm256_castsi256_ps(_mm256_and_si256(w, high))), xo = flush(_mm256_castsi256_ps(_mm256_and_si256(x, high)));
  const __m256 we = flush(_mm256_castsi256_ps(_mm256_slli_epi32(w, 16))), xe = flush(_mm256_castsi256_ps(_mm256_slli_epi32(x, 16)));
  const __m256 v = flush(_mm256_add_ps(acc, _mm256_mul_ps(wo, xo)));   // exact product, one rounding
  return flush(_mm256_add_ps(v, _mm256_mul_ps(we, xe)));
}

float dot_bf16(const uint16_t* w, const uint16_t* x, int64_t n) {
  __m256 lo = _mm256_setzero_ps(), hi = _mm256_setzero_ps();
  for (int64_t k = 0; k < n; k += 32) {
    auto ld = [](const uint16_t* p) { return _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p)); };
    lo = dp_half(lo, ld(w + k), ld(x + k));
    hi = dp_half(hi, ld(w + k + 16), ld(x + k + 16));
  }
  return reduce16(lo, hi);
}

}  // namespace

float fgemm_dot__avx2(GgmlType type, const uint16_t* w, const uint16_t* x, int64_t n) {
  return type == GgmlType::F16 ? dot_f16(w, x, n) : dot_bf16(w, x, n);
}

}  // namespace lowbit
