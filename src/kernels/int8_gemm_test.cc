#include "kernels/int8_gemm.h"

#include <chrono>
#include <cstdio>
#include <random>
#include <vector>

#include <gtest/gtest.h>

#include "core/error.h"

namespace lowbit {
namespace {

std::vector<int8_t> random_bytes(size_t n, std::mt19937& rng) {
  std::uniform_int_distribution<int> d(-128, 127);
  std::vector<int8_t> v(n);
  for (auto& x : v) x = static_cast<int8_t>(d(rng));
  return v;
}

// Runs every variant on the same operands (strided, starting one byte past an aligned
// buffer start) and compares with the reference bit for bit.
void expect_all_match(int64_t m, int64_t n, int64_t k, const std::vector<int8_t>& abuf, const std::vector<int8_t>& bbuf,
                      int64_t lda, int64_t ldb) {
  const int8_t* a = abuf.data() + 1;
  const int8_t* b = bbuf.data() + 1;
  const int64_t ldc = n + 3;
  std::vector<int32_t> want(static_cast<size_t>(m * ldc), -7);
  gemm_s8s8_i32__ref(m, n, k, a, lda, b, ldb, want.data(), ldc);
  int count = 0;
  const Int8GemmKernels* ks = int8_gemm_variants(&count);
  for (int v = 0; v < count; ++v) {
    std::vector<int32_t> got(static_cast<size_t>(m * ldc), -7);
    ks[v].gemm_i32(m, n, k, a, lda, b, ldb, got.data(), ldc);
    ASSERT_EQ(got, want) << ks[v].name << " m=" << m << " n=" << n << " k=" << k;
  }
}

TEST(Int8Gemm, EveryVariantMatchesReferenceExactly) {
  std::mt19937 rng(7);
  for (int64_t k : {0, 1, 2, 7, 31, 32, 33, 63, 64, 65, 100, 127, 128, 129, 4096, 4097})
    for (int64_t m : {1, 2, 3, 5})
      for (int64_t n : {1, 3, 4, 5, 9}) {
        const int64_t lda = k + 5, ldb = k + 3;  // odd strides: every row unaligned
        const auto a = random_bytes(static_cast<size_t>(m * lda + 2), rng);
        const auto b = random_bytes(static_cast<size_t>(n * ldb + 2), rng);
        expect_all_match(m, n, k, a, b, lda, ldb);
      }
}

TEST(Int8Gemm, ExtremeValues) {
  // −128 in both operands breaks the naive sign trick; 127 · 127 sums make the VNNI offset
  // path's intermediate (a + 128) · b sums wrap around int32.
  const std::vector<std::pair<int8_t, int8_t>> pairs = {{-128, -128}, {-128, 127}, {127, -128}, {127, 127}, {-1, -128}};
  for (int64_t k : {1, 31, 32, 33, 64, 100, 4096, 4097})
    for (auto [x, w] : pairs) {
      const int64_t m = 3, n = 5;
      std::vector<int8_t> a(static_cast<size_t>(m * k + 2), x), b(static_cast<size_t>(n * k + 2), w);
      expect_all_match(m, n, k, a, b, k, k);
    }
  // Random bytes with −128 sprinkled into some weight rows only (the AVX2 fix path and the
  // fast path side by side in one call).
  std::mt19937 rng(3);
  const int64_t m = 4, n = 11, k = 300;
  auto a = random_bytes(static_cast<size_t>(m * k + 2), rng);
  auto b = random_bytes(static_cast<size_t>(n * k + 2), rng);
  for (auto& v : b) if (v == -128) v = -127;
  for (int64_t i = 0; i < k; i += 7) b[1 + 5 * k + i] = -128;
  for (int64_t i = 0; i < m * k; i += 3) a[1 + i] = -128;
  expect_all_match(m, n, k, a, b, k, k);
}

TEST(Int8Gemm, MaximumDepthDoesNotOverflow) {
  const int64_t k = kGemmS8MaxDepth;
  for (auto [x, w] : std::vector<std::pair<int8_t, int8_t>>{{-128, -128}, {127, 127}, {-128, 127}}) {
    std::vector<int8_t> a(static_cast<size_t>(k + 2), x), b(static_cast<size_t>(2 * k + 2), w);
    expect_all_match(1, 2, k, a, b, k, k);
    std::vector<int32_t> c(2);
    gemm_s8s8_i32__ref(1, 1, k, a.data() + 1, k, b.data() + 1, k, c.data(), 1);
    EXPECT_EQ(c[0], static_cast<int32_t>(int64_t{x} * w * k));
  }
}

TEST(Int8Gemm, ThreadedEntryPointsMatchReferenceForEveryIsa) {
  std::mt19937 rng(11);
  const int64_t m = 131, n = 150, k = 333;  // several 64 × 64 tiles with ragged edges
  const auto a = random_bytes(static_cast<size_t>(m * k), rng);
  const auto b = random_bytes(static_cast<size_t>(n * k), rng);
  std::vector<float> sa(static_cast<size_t>(m)), sb(static_cast<size_t>(n));
  std::uniform_real_distribution<float> u(0.001f, 0.1f);
  for (auto& s : sa) s = u(rng);
  for (auto& s : sb) s = u(rng);
  std::vector<int32_t> want(static_cast<size_t>(m * n));
  gemm_s8s8_i32__ref(m, n, k, a.data(), k, b.data(), k, want.data(), n);
  std::vector<float> want_row(want.size()), want_tensor(want.size());
  for (int64_t t = 0; t < m; ++t)
    for (int64_t o = 0; o < n; ++o) {
      want_row[t * n + o] = (static_cast<float>(want[t * n + o]) * sa[t]) * sb[o];
      want_tensor[t * n + o] = (static_cast<float>(want[t * n + o]) * sa[0]) * sb[o];
    }
  const Isa saved = active_isa();
  int count = 0;
  const Int8GemmKernels* ks = int8_gemm_variants(&count);
  for (int v = 0; v < count; ++v) {
    force_isa(ks[v].isa);
    SCOPED_TRACE(ks[v].name);
    std::vector<int32_t> c(want.size());
    gemm_s8s8_i32(m, n, k, a.data(), b.data(), c.data());
    EXPECT_EQ(c, want);
    std::vector<float> y(want.size());
    gemm_s8s8_f32(m, n, k, a.data(), sa.data(), 1, b.data(), sb.data(), y.data());
    EXPECT_EQ(y, want_row);
    gemm_s8s8_f32(m, n, k, a.data(), sa.data(), 0, b.data(), sb.data(), y.data());
    EXPECT_EQ(y, want_tensor);
  }
  force_isa(saved);
}

TEST(Int8Gemm, RejectsBadSizes) {
  int8_t a = 0, b = 0;
  int32_t c = 0;
  float s = 1, y = 0;
  EXPECT_THROW(gemm_s8s8_i32(1, 1, kGemmS8MaxDepth + 1, &a, &b, &c), Error);
  EXPECT_THROW(gemm_s8s8_i32(-1, 1, 1, &a, &b, &c), Error);
  EXPECT_THROW(gemm_s8s8_f32(1, 1, 1, &a, &s, 2, &b, &s, &y), Error);
  gemm_s8s8_i32(0, 0, 0, &a, &b, &c);  // empty products are fine
}

// Throughput of each variant, single-threaded (run with --gtest_also_run_disabled_tests).
// GOPS counts a multiply and an add as two operations.
TEST(Int8Gemm, DISABLED_Benchmark) {
  std::mt19937 rng(5);
  struct Shape { int64_t m, n, k; };
  for (Shape s : {Shape{1, 4096, 4096}, Shape{64, 4096, 4096}, Shape{256, 1024, 4096}}) {
    const auto a = random_bytes(static_cast<size_t>(s.m * s.k), rng);
    auto b = random_bytes(static_cast<size_t>(s.n * s.k), rng);
    for (auto& v : b) if (v == -128) v = -127;  // symmetric int8 weights (the AVX2 fast path)
    std::vector<int32_t> c(static_cast<size_t>(s.m * s.n));
    int count = 0;
    const Int8GemmKernels* ks = int8_gemm_variants(&count);
    for (int v = 0; v < count; ++v) {
      const double ops = 2.0 * s.m * s.n * s.k;
      int reps = 0;
      const auto t0 = std::chrono::steady_clock::now();
      double secs = 0;
      do {
        ks[v].gemm_i32(s.m, s.n, s.k, a.data(), s.k, b.data(), s.k, c.data(), s.n);
        ++reps;
        secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
      } while (secs < 0.5);
      std::printf("m=%4lld n=%5lld k=%5lld  %-24s %8.1f GOPS (1 thread)\n", static_cast<long long>(s.m),
                  static_cast<long long>(s.n), static_cast<long long>(s.k), ks[v].name, ops * reps / secs * 1e-9);
    }
    // The threaded float entry point at the active ISA (all cores).
    std::vector<float> sa(static_cast<size_t>(s.m), 0.01f), sb(static_cast<size_t>(s.n), 0.02f);
    std::vector<float> y(c.size());
    int reps = 0;
    const auto t0 = std::chrono::steady_clock::now();
    double secs = 0;
    do {
      gemm_s8s8_f32(s.m, s.n, s.k, a.data(), sa.data(), 1, b.data(), sb.data(), y.data());
      ++reps;
      secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    } while (secs < 0.5);
    std::printf("m=%4lld n=%5lld k=%5lld  gemm_s8s8_f32 (%s, threaded) %8.1f GOPS\n", static_cast<long long>(s.m),
                static_cast<long long>(s.n), static_cast<long long>(s.k), int8_gemm().name,
                2.0 * s.m * s.n * s.k * reps / secs * 1e-9);
  }
}

}  // namespace
}  // namespace lowbit
