// AVX-512 variant of fgemm.h: F16 rows by vcvtph2ps + fma in sixteen lanes, BF16 rows by
// vdpbf16ps (AVX512_BF16) — the instructions llama.cpp's tinyBLAS uses — then the reduce16 tree.
// Bit-identical to fgemm_dot__ref (fgemm_test).

// GCC 12's avx512fintrin.h initialises its "undefined" vectors from themselves (bug 105593).
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#include <immintrin.h>

#include "kernels/hsum_avx512.h"

#include "kernels/fgemm.h"

namespace lowbit {
namespace {

float dot_f16(const uint16_t* w, const uint16_t* x, int64_t n) {
  __m512 acc = _mm512_setzero_ps();
  for (int64_t k = 0; k < n; k += 16) {
    const __m512 a = _mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(w + k)));
    const __m512 b = _mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(x + k)));
    acc = _mm512_fmadd_ps(a, b, acc);
  }
  return hsum16_tree(acc);
}

__attribute__((target("avx512bf16"))) float dot_bf16(const uint16_t* w, const uint16_t* x, int64_t n) {
  __m512 acc = _mm512_setzero_ps();
  for (int64_t k = 0; k < n; k += 32)
    acc = _mm512_dpbf16_ps(acc, (__m512bh)_mm512_loadu_si512(w + k), (__m512bh)_mm512_loadu_si512(x + k));
  return hsum16_tree(acc);
}

float dot(GgmlType type, const uint16_t* w, const uint16_t* x, int64_t n) {
  return type == GgmlType::F16 ? dot_f16(w, x, n) : dot_bf16(w, x, n);
}

float dot_f16_only(GgmlType type, const uint16_t* w, const uint16_t* x, int64_t n) {
  return type == GgmlType::F16 ? dot_f16(w, x, n) : fgemm_dot__avx2(type, w, x, n);
}

}  // namespace

FgemmDotFn fgemm_dot__avx512() {
  if (cpu_best_isa() != Isa::Avx512) return nullptr;
  static const bool bf16 = __builtin_cpu_supports("avx512bf16");
  return bf16 ? dot : dot_f16_only;
}

}  // namespace lowbit
