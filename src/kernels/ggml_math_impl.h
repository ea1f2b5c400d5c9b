// The plain implementations of ggml_math.h, included by ggml_math.cc (baseline ISA: std::fma is
// glibc's) and ggml_math_avx2.cc (the same code with hardware fma); internal linkage, so each
// file keeps its own copy. Built with -ffp-contract=off like every kernel: the only fused
// products are the std::fma calls, exactly where ggml has them.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>

namespace lowbit::ggml_math {
namespace {

inline float reduce16_impl(const float* a) {
  float b[8], c[4];
  for (int i = 0; i < 8; ++i) b[i] = a[i] + a[i + 8];
  for (int i = 0; i < 4; ++i) c[i] = b[i] + b[i + 4];
  return (c[0] + c[2]) + (c[1] + c[3]);
}

inline float expf_v_impl(float x) {
  const float r = 0x1.8p23f;
  const float z = std::fma(x, 0x1.715476p+0f, r);
  const float n = z - r;   // round(x · log2 e)
  const float b = std::fma(-n, 0x1.7f7d1cp-20f, std::fma(-n, 0x1.62e4p-1f, x));   // x − n·ln 2, in two parts
  const float u = b * b;
  const float j = std::fma(std::fma(std::fma(0x1.0e4020p-7f, b, 0x1.573e2ep-5f), u, std::fma(0x1.555e66p-3f, b, 0x1.fffdb6p-2f)),
                           u, std::fma(0x1.ffffecp-1f, b, 1.0f));
  if (std::fabs(n) > 192.0f) return n <= 0.0f ? 0.0f : INFINITY;
  return std::ldexp(j, static_cast<int>(n));   // vscalefps: j · 2^n, rounded once
}

inline float dot_f32_impl(const float* x, const float* y, int64_t n) {
  const int64_t np = n & ~int64_t{63};
  float sum = 0.0f;
  if (np > 0) {
    float acc[4][16] = {};
    for (int64_t i = 0; i < np; i += 64)
      for (int k = 0; k < 4; ++k)
        for (int l = 0; l < 16; ++l) acc[k][l] = std::fma(x[i + 16 * k + l], y[i + 16 * k + l], acc[k][l]);
    float r[16];
    for (int l = 0; l < 16; ++l) r[l] = (acc[0][l] + acc[2][l]) + (acc[1][l] + acc[3][l]);
    sum = reduce16_impl(r);
  }
  int64_t i = np;
  for (; i + 16 <= n; i += 16)
    for (int l = 0; l < 16; ++l) sum += x[i + l] * y[i + l];
  if (n - i >= 8) {
    for (int l = 0; l < 8; ++l) sum += x[i + l] * y[i + l];
    i += 8;
  }
  for (; i < n; ++i) sum = std::fma(x[i], y[i], sum);
  return sum;
}

inline void softmax_row_impl(float* s, int64_t n) {
  float mx = -INFINITY;
  for (int64_t j = 0; j < n; ++j) mx = std::max(mx, s[j]);
  double sum = 0.0;
  for (int64_t j0 = 0; j0 < n; j0 += 16) {
    float e[16] = {};
    for (int64_t l = 0; l < 16 && j0 + l < n; ++l) e[l] = s[j0 + l] = expf_v_impl(s[j0 + l] - mx);
    sum += static_cast<double>(reduce16_impl(e));
  }
  const float inv = static_cast<float>(1.0 / sum);
  for (int64_t j = 0; j < n; ++j) s[j] *= inv;
}

inline void weighted_sum_v_impl(const float* p, const float* v, int64_t n, int64_t stride, int64_t hd, float* out) {
  float lanes[16];
  for (int64_t d = 0; d < hd; ++d) {
    std::fill(lanes, lanes + 16, 0.0f);
    for (int64_t j = 0; j < n; ++j) lanes[j % 16] = std::fma(v[j * stride + d], p[j], lanes[j % 16]);
    out[d] = reduce16_impl(lanes);
  }
}

inline void swiglu_row_impl(float* gate, const float* up, int64_t n) {
  const int64_t nv = n & ~int64_t{15};
  int64_t i = 0;
  for (; i < nv; ++i) gate[i] = (gate[i] / (1.0f + expf_v_impl(0.0f - gate[i]))) * up[i];
  for (; i < n; ++i) gate[i] = gate[i] / (1.0f + std::exp(-gate[i])) * up[i];
}

inline void rope_pairs_impl(float* h, const float* cs, const float* sn, int64_t half, int64_t a_step, int64_t b_off) {
  for (int64_t i = 0; i < half; ++i) {
    float* pa = h + i * a_step;
    float* pb = pa + b_off;
    const float x0 = *pa, x1 = *pb;
    *pa = std::fma(x0, cs[i], -(x1 * sn[i]));
    *pb = std::fma(x0, sn[i], x1 * cs[i]);
  }
}

}  // namespace
}  // namespace lowbit::ggml_math
