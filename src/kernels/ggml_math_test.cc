// ggml_math (llama.cpp's CPU float order): every SIMD variant equals the plain reference bit for
// bit on every kernel (odd lengths, unaligned rows, overflowing exponents, ties in the maximum);
// expf_v is within 3e-7 relative of e^x and exact at its special values; and reduce16, dot,
// softmax, pv and swiglu equal the order their header documents, each written out again here and
// checked against an input on which a plausible other order gives different bits.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <numeric>
#include <random>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "kernels/ggml_math.h"

// The models below round every product they do not pass to std::fma, as the kernels do
// (-ffp-contract=off); the test target does not get that flag, so ask for it here.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC optimize("fp-contract=off")
#elif defined(__clang__)
#pragma STDC FP_CONTRACT OFF
#endif

namespace lowbit::ggml_math {
namespace {

// First differing float, printed exactly (%a), or success when the bytes are equal.
::testing::AssertionResult bits_equal(const float* got, const float* want, int64_t n) {
  if (std::memcmp(got, want, sizeof(float) * n) == 0) return ::testing::AssertionSuccess();
  int64_t i = 0;
  while (std::memcmp(got + i, want + i, sizeof(float)) == 0) ++i;
  char buf[128];
  std::snprintf(buf, sizeof buf, "element %lld: got %a, want %a", static_cast<long long>(i), got[i], want[i]);
  return ::testing::AssertionFailure() << buf;
}

std::vector<float> normal(int64_t n, std::mt19937& rng, float scale = 1.0f) {
  std::normal_distribution<float> nd(0.0f, scale);
  std::vector<float> v(n);
  for (float& x : v) x = nd(rng);
  return v;
}

std::vector<float> uniform(int64_t n, std::mt19937& rng) {   // attention weights in [0, 1)
  std::uniform_real_distribution<float> u(0.0f, 1.0f);
  std::vector<float> v(n);
  for (float& x : v) x = u(rng);
  return v;
}

// The documented reduction tree, written out independently of the module.
float tree16(const float* a) {
  float b[8], c[4];
  for (int i = 0; i < 8; ++i) b[i] = a[i] + a[i + 8];
  for (int i = 0; i < 4; ++i) c[i] = b[i] + b[i + 4];
  return (c[0] + c[2]) + (c[1] + c[3]);
}

// Runs `run(kernels, out)` for each of variants()[first..] and expects `want`'s bytes; `out`
// starts as `want.size()` sentinels (7.0f), so a write past the real output shows too.
template <class Run>
void expect_kernels_give(const std::vector<float>& want, const Run& run, int first, const std::string& what) {
  int count = 0;
  const Kernels* ks = variants(&count);
  for (int k = first; k < count; ++k) {
    std::vector<float> got(want.size(), 7.0f);
    run(ks[k], got.data());
    EXPECT_TRUE(bits_equal(got.data(), want.data(), static_cast<int64_t>(want.size()))) << ks[k].name << " " << what;
  }
}

// The SIMD variants against the reference (variants()[0]).
template <class Run>
void expect_variants_match_reference(size_t size, const Run& run, const std::string& what) {
  int count = 0;
  std::vector<float> want(size, 7.0f);
  run(variants(&count)[0], want.data());
  expect_kernels_give(want, run, 1, what);
}

#define SKIP_WITHOUT_SIMD() \
  if (int count = 0; variants(&count), count < 2) GTEST_SKIP() << "no SIMD variant of ggml_math on this CPU"

TEST(GgmlMath, DotVariantsMatchReferenceBitForBit) {
  SKIP_WITHOUT_SIMD();
  std::mt19937 rng(11);
  std::vector<int64_t> sizes = {255, 256, 257, 1000, 4099};
  for (int64_t n = 1; n <= 200; ++n) sizes.push_back(n);
  for (int64_t n : sizes) {
    const std::vector<float> x = normal(n + 1, rng), y = normal(n + 1, rng);   // x + 1: unaligned
    const auto run = [&](const Kernels& k, float* out) { *out = k.dot(x.data() + 1, y.data() + 1, n); };
    expect_variants_match_reference(1, run, "n=" + std::to_string(n));
  }
}

TEST(GgmlMath, SoftmaxVariantsMatchReferenceBitForBit) {
  SKIP_WITHOUT_SIMD();
  std::mt19937 rng(12);
  std::uniform_real_distribution<float> u(0.0f, 1.0f);
  for (int64_t n = 1; n <= 300; ++n) {
    std::vector<float> s = normal(n, rng, 4.0f);
    // e^(s − max) underflows to a subnormal or 0 (−100), is far below (−1e4), is masked (−inf).
    for (float& v : s)
      if (const float r = u(rng); r < 0.15f) v = r < 0.1f ? -100.0f : r < 0.13f ? -1e4f : -INFINITY;
    if (n >= 2) s[rng() % n] = *std::max_element(s.begin(), s.end());   // a tie in the maximum
    const auto run = [&](const Kernels& k, float* out) {
      std::copy(s.begin(), s.end(), out);
      k.softmax(out, n);
    };
    expect_variants_match_reference(n, run, "n=" + std::to_string(n));
  }
}

TEST(GgmlMath, PvVariantsMatchReferenceBitForBit) {
  SKIP_WITHOUT_SIMD();
  std::mt19937 rng(13);
  for (int64_t hd : {8, 16, 32, 40, 64, 128}) {
    const int64_t stride = hd * 4 + 3;
    for (int64_t n = 1; n <= 70; ++n) {
      // v ends at the last row's hd-th element: a read past it would leave the buffer.
      const std::vector<float> v = normal((n - 1) * stride + hd, rng);
      const std::vector<float> p = uniform(n, rng);
      // 16 sentinels past hd catch a store beyond the head.
      expect_variants_match_reference(
          hd + 16, [&](const Kernels& k, float* out) { k.pv(p.data(), v.data(), n, stride, hd, out); },
          "n=" + std::to_string(n) + " hd=" + std::to_string(hd));
    }
  }
}

TEST(GgmlMath, SwigluVariantsMatchReferenceBitForBit) {
  SKIP_WITHOUT_SIMD();
  std::mt19937 rng(14);
  std::uniform_real_distribution<float> u(0.0f, 1.0f);
  std::vector<int64_t> sizes = {172, 768};
  for (int64_t n = 1; n <= 100; ++n) sizes.push_back(n);
  for (int64_t n : sizes) {
    std::vector<float> gate = normal(n + 1, rng, 4.0f);
    const std::vector<float> up = normal(n + 1, rng);
    // e^−x overflows (x = −90, −100) or underflows to a subnormal (x = 88.5, 90).
    for (float& g : gate)
      if (const float r = u(rng); r < 0.14f) g = r < 0.05f ? 90.0f : r < 0.1f ? -90.0f : r < 0.12f ? -100.0f : 88.5f;
    const auto run = [&](const Kernels& k, float* out) {
      std::copy(gate.begin(), gate.end(), out);
      k.swiglu(out + 1, up.data() + 1, n);
    };
    expect_variants_match_reference(n + 1, run, "n=" + std::to_string(n));
  }
}

TEST(GgmlMath, RopeVariantsMatchReferenceBitForBit) {
  SKIP_WITHOUT_SIMD();
  std::mt19937 rng(15);
  std::uniform_real_distribution<float> angle(-10.0f, 10.0f);   // cs, sn from unrelated angles: any floats do
  for (int64_t half : {4, 16, 32}) {
    const int64_t layouts[2][2] = {{2, 1}, {1, half}};   // adjacent pairs; NeoX halves
    for (const auto& ab : layouts) {
      const std::vector<float> h = normal(2 * half, rng, 3.0f);
      std::vector<float> cs(half), sn(half);
      for (int64_t i = 0; i < half; ++i) cs[i] = std::cos(angle(rng)), sn[i] = std::sin(angle(rng));
      const auto run = [&](const Kernels& k, float* out) {
        std::copy(h.begin(), h.end(), out);
        k.rope(out, cs.data(), sn.data(), half, ab[0], ab[1]);
      };
      expect_variants_match_reference(2 * half, run,
                                      "half=" + std::to_string(half) + " b_off=" + std::to_string(ab[1]));
    }
  }
}

TEST(GgmlMath, ExpfVIsWithin3e7OfExpAndNotLibmExpf) {
  double worst = 0.0;
  float worst_x = 0.0f;
  int differs_from_expf = 0;
  for (int i = 0; i <= 200000; ++i) {
    const float x = static_cast<float>(-87.0 + 175.0 * i / 200000.0);
    const float got = expf_v(x);
    const double want = std::exp(static_cast<double>(x));
    const double rel = std::fabs(got - want) / want;
    if (rel > worst) worst = rel, worst_x = x;
    differs_from_expf += got != std::exp(x);
  }
  EXPECT_LE(worst, 3e-7) << "at x = " << worst_x;
  std::printf("expf_v: max relative error %.3g at x = %.9g\n", worst, worst_x);
  EXPECT_GT(differs_from_expf, 0) << "expf_v equals libm expf everywhere: not ggml_v_expf";
}

TEST(GgmlMath, ExpfVSpecialValues) {
  EXPECT_EQ(expf_v(0.0f), 1.0f);
  EXPECT_EQ(expf_v(-0.0f), 1.0f);
  EXPECT_EQ(expf_v(-INFINITY), 0.0f);
  EXPECT_EQ(expf_v(INFINITY), INFINITY);
  EXPECT_EQ(expf_v(200.0f), INFINITY);
  EXPECT_EQ(expf_v(100.0f), INFINITY);   // 2^144 · j overflows in the scaling
  EXPECT_EQ(expf_v(-200.0f), 0.0f);
  const float tiny = expf_v(-100.0f);    // e^−100 ≈ 3.7e−44: subnormal
  EXPECT_GE(tiny, 0.0f);
  EXPECT_NEAR(tiny, std::exp(-100.0f), 1e-44);
}

TEST(GgmlMath, Reduce16IsTheDocumentedTree) {
  // Crafted: each sums to 1 in the tree but to 0 left to right (1e8 + 1 rounds back to 1e8).
  float a[16] = {1e8f, 1.0f, -1e8f};                     // c0 + c2 cancel before c1 is added
  float b[16] = {1e8f, 0, 0, 0, 1.0f, 0, 0, 0, -1e8f};   // a0 + a8 cancel in the first level
  for (const float* v : {a, b}) {
    float left_to_right = 0.0f;
    for (int i = 0; i < 16; ++i) left_to_right += v[i];
    EXPECT_EQ(left_to_right, 0.0f);
    EXPECT_EQ(tree16(v), 1.0f);
    EXPECT_EQ(reduce16(v), 1.0f);
  }
  // Random inputs over a wide range of magnitudes: the tree, and not (c0 + c1) + (c2 + c3).
  std::mt19937 rng(16);
  int other_tree_differs = 0;
  for (int t = 0; t < 2000; ++t) {
    std::vector<float> v = normal(16, rng);
    for (float& x : v) x = std::ldexp(x, static_cast<int>(rng() % 41) - 20);
    const float got = reduce16(v.data()), want = tree16(v.data());
    ASSERT_TRUE(bits_equal(&got, &want, 1)) << "trial " << t;
    float c[4];
    for (int i = 0; i < 4; ++i) c[i] = (v[i] + v[i + 8]) + (v[i + 4] + v[i + 12]);
    other_tree_differs += got != (c[0] + c[1]) + (c[2] + c[3]);
  }
  EXPECT_GT(other_tree_differs, 0);
}

// Small x, y (products ~2^−20) with x[i]·y[i] + x[k]·y[k] = a² − a², a = 1 + 2^−12: the rounded
// products cancel to 0; a fused second product leaves −2^−24, which the small sum keeps.
void crafted_dot_rows(int64_t n, int64_t i, int64_t k, std::mt19937& rng, std::vector<float>* x,
                      std::vector<float>* y) {
  *x = normal(n, rng, 1.0f / 1024);
  *y = normal(n, rng, 1.0f / 1024);
  const float a = 1.0f + std::ldexp(1.0f, -12);
  (*x)[i] = (*y)[i] = (*x)[k] = a, (*y)[k] = -a;
}

// n < 64: blocks of 16, then one of 8, add rounded products in order; the last n % 8 are fused.
TEST(GgmlMath, DotShortRowsRoundOrFuseAsDocumented) {
  std::mt19937 rng(17);
  for (int n : {32, 24, 8, 7, 13}) {
    std::vector<float> x, y;
    const int nu = n / 8 * 8;
    crafted_dot_rows(n, n == 13 ? 8 : 0, n == 13 ? 9 : 1, rng, &x, &y);   // the pair in the n % 8 tail when n = 13
    float want = 0.0f, other = 0.0f;   // other: each product the opposite way
    for (int i = 0; i < n; ++i) {
      want = i < nu ? want + x[i] * y[i] : std::fma(x[i], y[i], want);
      other = i < nu ? std::fma(x[i], y[i], other) : other + x[i] * y[i];
    }
    ASSERT_NE(want, other) << "n=" << n;
    expect_kernels_give({want}, [&](const Kernels& k, float* out) { *out = k.dot(x.data(), y.data(), n); }, 0,
                        "n=" + std::to_string(n));
  }
}

// The header's dot: four 16-lane fma accumulators over 64-element steps, reduced
// ((a0 + a2) + (a1 + a3)) then tree16; then rounded products by 16, by 8, then fma one by one.
float dot_model(const float* x, const float* y, int64_t n, bool fused_steps) {
  const int64_t np = n / 64 * 64;
  float sum = 0.0f;
  if (np > 0) {
    float acc[4][16] = {}, r[16];
    for (int64_t i = 0; i < np; i += 64)
      for (int k = 0; k < 4; ++k)
        for (int l = 0; l < 16; ++l) {
          const int64_t e = i + 16 * k + l;
          acc[k][l] = fused_steps ? std::fma(x[e], y[e], acc[k][l]) : acc[k][l] + x[e] * y[e];
        }
    for (int l = 0; l < 16; ++l) r[l] = (acc[0][l] + acc[2][l]) + (acc[1][l] + acc[3][l]);
    sum = tree16(r);
  }
  int64_t i = np;
  for (; i + 16 <= n; i += 16)
    for (int l = 0; l < 16; ++l) sum += x[i + l] * y[i + l];
  if (n - i >= 8)
    for (const int64_t end = i + 8; i < end; ++i) sum += x[i] * y[i];
  for (; i < n; ++i) sum = std::fma(x[i], y[i], sum);
  return sum;
}

TEST(GgmlMath, DotLongRowsUseFourFmaAccumulatorsAndTheTree) {
  std::mt19937 rng(18);
  for (int64_t n : {64, 128, 64 * 3 + 16 + 8, 64 * 3 + 16 + 8 + 5}) {
    // Lane (0, 0) gets a², then −a² one 64-step later (n ≥ 128): only a fused step keeps −2^−24.
    std::vector<float> x, y;
    crafted_dot_rows(n, 0, n >= 128 ? 64 : 1, rng, &x, &y);
    const float want = dot_model(x.data(), y.data(), n, true);
    if (n >= 128) { ASSERT_NE(want, dot_model(x.data(), y.data(), n, false)) << "n=" << n; }
    // Random rows with 1e8 in lane (0, 0) of a0 and −1e8 in a2's: the tree cancels them before
    // the small products are added, a sequential fma chain after (losing them to 1e8's ulp 8).
    std::vector<float> xr = normal(n, rng), yr = normal(n, rng);
    xr[0] = xr[32] = yr[0] = 1e4f, yr[32] = -1e4f;
    const float want_r = dot_model(xr.data(), yr.data(), n, true);
    float chain = 0.0f;
    for (int64_t i = 0; i < n; ++i) chain = std::fma(xr[i], yr[i], chain);
    ASSERT_NE(want_r, chain) << "n=" << n;
    const auto run = [&](const Kernels& k, float* out) {
      out[0] = k.dot(x.data(), y.data(), n);
      out[1] = k.dot(xr.data(), yr.data(), n);
    };
    expect_kernels_give({want, want_r}, run, 0, "n=" + std::to_string(n));
  }
}

TEST(GgmlMath, SoftmaxIsADistributionInTheDocumentedOrder) {
  std::mt19937 rng(19);
  for (int64_t n : {1, 2, 15, 16, 17, 33, 100, 300}) {
    std::vector<float> s = normal(n, rng, 4.0f);
    for (int64_t j = 3; j < n; j += 7) s[j] = -100.0f;
    if (n >= 2) s[n - 1] = *std::max_element(s.begin(), s.end());   // a tie in the maximum
    // e = expf_v(s − max), the sum in double of one tree16 per 16 positions, p = e · (float)(1/sum).
    const float mx = *std::max_element(s.begin(), s.end());
    std::vector<float> want(n);
    double sum = 0.0;
    for (int64_t j0 = 0; j0 < n; j0 += 16) {
      float e[16] = {};
      for (int64_t l = 0; l < 16 && j0 + l < n; ++l) e[l] = want[j0 + l] = expf_v(s[j0 + l] - mx);
      sum += tree16(e);
    }
    const float inv = static_cast<float>(1.0 / sum);
    for (float& p : want) p *= inv;
    const auto run = [&](const Kernels& k, float* out) {
      std::copy(s.begin(), s.end(), out);
      k.softmax(out, n);
    };
    expect_kernels_give(want, run, 0, "n=" + std::to_string(n));
    // The dispatched kernel's output is a distribution with the input's argmax.
    std::vector<float> p = s;
    kernels().softmax(p.data(), n);
    EXPECT_NEAR(std::accumulate(p.begin(), p.end(), 0.0), 1.0, 1e-6) << "n=" << n;
    EXPECT_TRUE(std::all_of(p.begin(), p.end(), [](float v) { return v >= 0.0f; })) << "n=" << n;
    EXPECT_EQ(std::max_element(p.begin(), p.end()) - p.begin(), std::max_element(s.begin(), s.end()) - s.begin());
  }
}

TEST(GgmlMath, PvIsSixteenFmaLanesThenTheTree) {
  std::mt19937 rng(20);
  const int64_t hd = 40, stride = hd * 4 + 3;
  int differs_from_chain = 0;
  for (int64_t n = 1; n <= 70; ++n) {
    const std::vector<float> v = normal((n - 1) * stride + hd, rng);
    const std::vector<float> p = uniform(n, rng);
    // Lane m: fma over the positions j ≡ m (mod 16) in order (for n ≤ 16 just v·p rounded).
    std::vector<float> want(hd);
    for (int64_t d = 0; d < hd; ++d) {
      float lanes[16] = {}, chain = 0.0f;
      for (int64_t j = 0; j < n; ++j) {
        lanes[j % 16] = std::fma(v[j * stride + d], p[j], lanes[j % 16]);
        chain = std::fma(v[j * stride + d], p[j], chain);
      }
      want[d] = tree16(lanes);
      differs_from_chain += want[d] != chain;
    }
    expect_kernels_give(want, [&](const Kernels& k, float* out) { k.pv(p.data(), v.data(), n, stride, hd, out); }, 0,
                        "n=" + std::to_string(n));
  }
  EXPECT_GT(differs_from_chain, 0);
}

TEST(GgmlMath, SwigluUsesExpfVOnBlocksOf16AndExpfOnTheTail) {
  std::mt19937 rng(21);
  const int64_t n = 16 * 20 + 5;
  const std::vector<float> gate = normal(n, rng, 3.0f), up = normal(n, rng);
  std::vector<float> want(n);
  int blocks_differ_from_expf = 0;
  for (int64_t i = 0; i < n; ++i) {
    const float x = gate[i];
    const float libm = x / (1.0f + std::exp(-x)) * up[i];
    want[i] = i < n / 16 * 16 ? (x / (1.0f + expf_v(0.0f - x))) * up[i] : libm;
    blocks_differ_from_expf += want[i] != libm;
  }
  ASSERT_GT(blocks_differ_from_expf, 0);
  const auto run = [&](const Kernels& k, float* out) {
    std::copy(gate.begin(), gate.end(), out);
    k.swiglu(out, up.data(), n);
  };
  expect_kernels_give(want, run, 0, "n=" + std::to_string(n));
}

}  // namespace
}  // namespace lowbit::ggml_math
