// AVX-512 kernels of ggml_math.h: the same operations, in the same order, as the plain reference
// (ggml_math_impl.h), with 16 lanes at a time where ggml itself works in 16 lanes (and across
// the head dimension for P·V, whose per-position order is kept). Bit-identical to the reference
// (ggml_math_test).

// GCC 12's avx512fintrin.h initialises its "undefined" vectors from themselves (bug 105593).
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#include <immintrin.h>

#include "kernels/hsum_avx512.h"

#include <cmath>

#include "kernels/ggml_math.h"
#include "kernels/ggml_math_impl.h"

namespace lowbit::ggml_math {
namespace {

// expf_v_impl on 16 lanes (ggml_v_expf's operations).
inline __m512 expf16(__m512 x) {
  const __m512 r = _mm512_set1_ps(0x1.8p23f);
  const __m512 z = _mm512_fmadd_ps(x, _mm512_set1_ps(0x1.715476p+0f), r);
  const __m512 n = _mm512_sub_ps(z, r);
  const __m512 b = _mm512_fnmadd_ps(n, _mm512_set1_ps(0x1.7f7d1cp-20f), _mm512_fnmadd_ps(n, _mm512_set1_ps(0x1.62e4p-1f), x));
  const __mmask16 big = _mm512_cmp_ps_mask(_mm512_abs_ps(n), _mm512_set1_ps(192), _CMP_GT_OQ);
  const __m512 u = _mm512_mul_ps(b, b);
  const __m512 j = _mm512_fmadd_ps(
      _mm512_fmadd_ps(_mm512_fmadd_ps(_mm512_set1_ps(0x1.0e4020p-7f), b, _mm512_set1_ps(0x1.573e2ep-5f)), u,
                      _mm512_fmadd_ps(_mm512_set1_ps(0x1.555e66p-3f), b, _mm512_set1_ps(0x1.fffdb6p-2f))),
      u, _mm512_fmadd_ps(_mm512_set1_ps(0x1.ffffecp-1f), b, _mm512_set1_ps(1.0f)));
  const __m512 res = _mm512_scalef_ps(j, n);
  if (!big) return res;
  const __m512 zero = _mm512_setzero_ps();
  const __m512 alt = _mm512_mask_blend_ps(_mm512_cmp_ps_mask(n, zero, _CMP_LE_OQ), _mm512_set1_ps(INFINITY), zero);
  return _mm512_mask_blend_ps(big, res, alt);
}

inline __mmask16 tail_mask(int64_t k) { return static_cast<__mmask16>((1u << k) - 1u); }

float dot(const float* x, const float* y, int64_t n) {
  const int64_t np = n & ~int64_t{63};
  float sum = 0.0f;
  if (np > 0) {
    __m512 a0 = _mm512_setzero_ps(), a1 = a0, a2 = a0, a3 = a0;
    for (int64_t i = 0; i < np; i += 64) {
      a0 = _mm512_fmadd_ps(_mm512_loadu_ps(x + i), _mm512_loadu_ps(y + i), a0);
      a1 = _mm512_fmadd_ps(_mm512_loadu_ps(x + i + 16), _mm512_loadu_ps(y + i + 16), a1);
      a2 = _mm512_fmadd_ps(_mm512_loadu_ps(x + i + 32), _mm512_loadu_ps(y + i + 32), a2);
      a3 = _mm512_fmadd_ps(_mm512_loadu_ps(x + i + 48), _mm512_loadu_ps(y + i + 48), a3);
    }
    sum = hsum16_tree(_mm512_add_ps(_mm512_add_ps(a0, a2), _mm512_add_ps(a1, a3)));
  }
  int64_t i = np;
  alignas(64) float p[16];
  for (; i + 16 <= n; i += 16) {   // rounded products, added in order
    _mm512_store_ps(p, _mm512_mul_ps(_mm512_loadu_ps(x + i), _mm512_loadu_ps(y + i)));
    for (int l = 0; l < 16; ++l) sum += p[l];
  }
  if (n - i >= 8) {
    for (int l = 0; l < 8; ++l) sum += x[i + l] * y[i + l];
    i += 8;
  }
  for (; i < n; ++i) sum = std::fma(x[i], y[i], sum);
  return sum;
}

void softmax(float* s, int64_t n) {
  __m512 vmax = _mm512_set1_ps(-INFINITY);
  int64_t j = 0;
  for (; j + 16 <= n; j += 16) vmax = _mm512_max_ps(vmax, _mm512_loadu_ps(s + j));
  if (j < n) vmax = _mm512_max_ps(vmax, _mm512_mask_loadu_ps(_mm512_set1_ps(-INFINITY), tail_mask(n - j), s + j));
  const __m512 mx = _mm512_set1_ps(_mm512_reduce_max_ps(vmax));
  double sum = 0.0;
  for (j = 0; j < n; j += 16) {
    const __mmask16 m = n - j >= 16 ? static_cast<__mmask16>(0xFFFF) : tail_mask(n - j);
    const __m512 e = _mm512_maskz_mov_ps(m, expf16(_mm512_sub_ps(_mm512_maskz_loadu_ps(m, s + j), mx)));
    _mm512_mask_storeu_ps(s + j, m, e);
    sum += static_cast<double>(hsum16_tree(e));
  }
  const __m512 inv = _mm512_set1_ps(static_cast<float>(1.0 / sum));
  for (j = 0; j < n; j += 16) {
    const __mmask16 m = n - j >= 16 ? static_cast<__mmask16>(0xFFFF) : tail_mask(n - j);
    _mm512_mask_storeu_ps(s + j, m, _mm512_mul_ps(_mm512_maskz_loadu_ps(m, s + j), inv));
  }
}

// Sixteen head dimensions at a time; lane accumulator m takes the positions j ≡ m (mod 16).
void pv(const float* p, const float* v, int64_t n, int64_t stride, int64_t hd, float* out) {
  for (int64_t d0 = 0; d0 < hd; d0 += 16) {
    const __mmask16 dm = hd - d0 >= 16 ? static_cast<__mmask16>(0xFFFF) : tail_mask(hd - d0);
    __m512 acc[16];
    for (int m = 0; m < 16; ++m) acc[m] = _mm512_setzero_ps();
    int64_t j = 0;
    for (; j + 16 <= n; j += 16)
      for (int m = 0; m < 16; ++m)
        acc[m] = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(dm, v + (j + m) * stride + d0), _mm512_set1_ps(p[j + m]), acc[m]);
    for (int m = 0; j + m < n; ++m)
      acc[m] = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(dm, v + (j + m) * stride + d0), _mm512_set1_ps(p[j + m]), acc[m]);
    __m512 b[8], c[4];
    for (int i = 0; i < 8; ++i) b[i] = _mm512_add_ps(acc[i], acc[i + 8]);
    for (int i = 0; i < 4; ++i) c[i] = _mm512_add_ps(b[i], b[i + 4]);
    _mm512_mask_storeu_ps(out + d0, dm, _mm512_add_ps(_mm512_add_ps(c[0], c[2]), _mm512_add_ps(c[1], c[3])));
  }
}

void swiglu(float* gate, const float* up, int64_t n) {
  const int64_t nv = n & ~int64_t{15};
  const __m512 one = _mm512_set1_ps(1.0f);
  for (int64_t i = 0; i < nv; i += 16) {
    const __m512 x = _mm512_loadu_ps(gate + i);
    const __m512 silu = _mm512_div_ps(x, _mm512_add_ps(one, expf16(_mm512_sub_ps(_mm512_setzero_ps(), x))));
    _mm512_storeu_ps(gate + i, _mm512_mul_ps(silu, _mm512_loadu_ps(up + i)));
  }
  for (int64_t i = nv; i < n; ++i) gate[i] = gate[i] / (1.0f + std::exp(-gate[i])) * up[i];
}

void rope(float* h, const float* cs, const float* sn, int64_t half, int64_t a_step, int64_t b_off) {
  rope_pairs_impl(h, cs, sn, half, a_step, b_off);
}

}  // namespace

extern const Kernels kAvx512 = {Isa::Avx512, dot, softmax, pv, swiglu, rope, "ggml_math__avx512"};

}  // namespace lowbit::ggml_math
