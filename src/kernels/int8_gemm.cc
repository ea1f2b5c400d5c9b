// The plain-loop reference of the int8 GEMM, the variant table, and the checked, threaded
// entry points (int8_gemm.h). The SIMD variants live in int8_gemm_avx2.cc / _avx512.cc.
#include "kernels/int8_gemm.h"

#include <omp.h>

#include <algorithm>

#include "core/error.h"

namespace lowbit {
namespace {

// Tile of the threaded driver: kTileM activation rows × kTileN weight rows. A weight tile of
// 64 rows × 4096 bytes (256 KiB) stays in L2 while the activation tile streams past it.
constexpr int64_t kTileM = 64;
constexpr int64_t kTileN = 64;
// Below this many multiply-adds one thread does it all (thread start-up would dominate).
constexpr int64_t kParallelMin = int64_t{1} << 18;

void check_sizes(int64_t m, int64_t n, int64_t k) {
  if (m < 0 || n < 0 || k < 0) fail("gemm_s8s8: negative size (m={}, n={}, k={})", m, n, k);
  if (k > kGemmS8MaxDepth)
    fail("gemm_s8s8: depth k={} exceeds {} (int32 sums of int8 products could overflow)", k, kGemmS8MaxDepth);
}

// Runs fn(t0, t1, o0, o1, tile_c) over every tile, tiles spread over threads; tile_c is a
// kTileM × kTileN int32 scratch of the calling thread holding the tile's exact sums.
template <typename Fn>
void for_each_tile(int64_t m, int64_t n, int64_t k, const int8_t* a, const int8_t* b, Fn fn) {
  const GemmS8S8I32Fn gemm = int8_gemm().gemm_i32;
  const int64_t tm = (m + kTileM - 1) / kTileM, tn = (n + kTileN - 1) / kTileN, tiles = tm * tn;
  const bool parallel = m * n * k >= kParallelMin && tiles > 1;
  // Weight tiles outer: consecutive tiles of one thread share the weight rows.
#pragma omp parallel for schedule(static) if (parallel)
  for (int64_t tile = 0; tile < tiles; ++tile) {
    const int64_t o0 = (tile / tm) * kTileN, t0 = (tile % tm) * kTileM;
    const int64_t o1 = std::min(n, o0 + kTileN), t1 = std::min(m, t0 + kTileM);
    int32_t c[kTileM * kTileN];
    gemm(t1 - t0, o1 - o0, k, a + t0 * k, k, b + o0 * k, k, c, kTileN);
    fn(t0, t1, o0, o1, c);
  }
}

}  // namespace

void gemm_s8s8_i32__ref(int64_t m, int64_t n, int64_t k, const int8_t* a, int64_t lda, const int8_t* b, int64_t ldb,
                        int32_t* c, int64_t ldc) {
  for (int64_t t = 0; t < m; ++t)
    for (int64_t o = 0; o < n; ++o) {
      int32_t s = 0;  // |partial sum| ≤ 2^14 · k < 2^31 for k ≤ kGemmS8MaxDepth
      for (int64_t i = 0; i < k; ++i) s += static_cast<int32_t>(a[t * lda + i]) * static_cast<int32_t>(b[o * ldb + i]);
      c[t * ldc + o] = s;
    }
}

const Int8GemmKernels* int8_gemm_variants(int* count) {
  static const Int8GemmKernels k[] = {
      {Isa::Ref, gemm_s8s8_i32__ref, "gemm_s8s8_i32__ref"},
      {Isa::Avx2, gemm_s8s8_i32__avx2, "gemm_s8s8_i32__avx2"},
      {Isa::Avx512, gemm_s8s8_i32__avx512, "gemm_s8s8_i32__avx512"},
  };
  *count = static_cast<int>(cpu_best_isa()) + 1;  // only variants this CPU can run
  return k;
}

const Int8GemmKernels& int8_gemm() {
  int n = 0;
  return int8_gemm_variants(&n)[static_cast<int>(active_isa())];
}

void gemm_s8s8_i32(int64_t m, int64_t n, int64_t k, const int8_t* a, const int8_t* b, int32_t* c) {
  check_sizes(m, n, k);
  for_each_tile(m, n, k, a, b, [&](int64_t t0, int64_t t1, int64_t o0, int64_t o1, const int32_t* tile) {
    for (int64_t t = t0; t < t1; ++t) std::copy_n(tile + (t - t0) * kTileN, o1 - o0, c + t * n + o0);
  });
}

void gemm_s8s8_f32(int64_t m, int64_t n, int64_t k, const int8_t* a, const float* a_scales, int64_t a_scale_stride,
                   const int8_t* b, const float* b_scales, float* y) {
  check_sizes(m, n, k);
  if (a_scale_stride != 0 && a_scale_stride != 1) fail("gemm_s8s8_f32: a_scale_stride must be 0 or 1, not {}", a_scale_stride);
  for_each_tile(m, n, k, a, b, [&](int64_t t0, int64_t t1, int64_t o0, int64_t o1, const int32_t* tile) {
    for (int64_t t = t0; t < t1; ++t) {
      const float sa = a_scales[t * a_scale_stride];
      const int32_t* ct = tile + (t - t0) * kTileN;
      float* yt = y + t * n;
      for (int64_t o = o0; o < o1; ++o) yt[o] = (static_cast<float>(ct[o - o0]) * sa) * b_scales[o];
    }
  });
}

}  // namespace lowbit
