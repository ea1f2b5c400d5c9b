// fgemm (fgemm.h): the AVX-512 (vcvtph2ps + fma; vdpbf16ps) and AVX2 variants equal the plain reference
// bit for bit, including bf16 inputs and sums near the denormal range (the instruction's fixed
// DAZ/FTZ); fgemm_matmul agrees with the dequantized product and declines what it cannot take.
#include <cmath>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "core/half.h"
#include "kernels/fgemm.h"
#include "kernels/test_activations.h"

namespace lowbit {
namespace {

std::vector<uint16_t> random_row(GgmlType t, int64_t n, uint32_t seed, float scale) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> nd(0.0f, scale);
  std::vector<uint16_t> r(n);
  for (auto& v : r) v = t == GgmlType::F16 ? f32_to_f16(nd(rng)) : f32_to_bf16(nd(rng));
  return r;
}

TEST(Fgemm, Avx512EqualsReferenceBitForBit) {
  const FgemmDotFn simd = fgemm_dot__avx512();
  if (!simd) GTEST_SKIP() << "this CPU lacks avx512";
  for (GgmlType t : {GgmlType::F16, GgmlType::BF16})
    for (int64_t n : {32, 64, 96, 288, 2048})
      for (float scale : {1.0f, 1e-19f, 1e-3f, 3e-39f}) {   // 1e-19: products near the float denormal range; 3e-39: denormal bf16
        SCOPED_TRACE(std::string(ggml_type_name(t)) + " n " + std::to_string(n) + " scale " + std::to_string(scale));
        const auto w = random_row(t, n, static_cast<uint32_t>(n), scale), x = random_row(t, n, static_cast<uint32_t>(n + 1), 1.0f);
        const float a = fgemm_dot__ref(t, w.data(), x.data(), n), b = simd(t, w.data(), x.data(), n);
        EXPECT_EQ(std::memcmp(&a, &b, 4), 0) << a << " vs " << b;
      }
}

TEST(Fgemm, Avx2EqualsReferenceBitForBit) {
  if (static_cast<int>(cpu_best_isa()) < static_cast<int>(Isa::Avx2)) GTEST_SKIP() << "this CPU lacks avx2";
  for (GgmlType t : {GgmlType::F16, GgmlType::BF16})
    for (int64_t n : {32, 64, 96, 288, 2048})
      for (float scale : {1.0f, 1e-19f, 1e-3f, 3e-39f}) {   // 3e-39: bf16 denormal weights (flushed)
        SCOPED_TRACE(std::string(ggml_type_name(t)) + " n " + std::to_string(n) + " scale " + std::to_string(scale));
        const auto w = random_row(t, n, static_cast<uint32_t>(n + 7), scale), x = random_row(t, n, static_cast<uint32_t>(n + 8), 1.0f);
        const float a = fgemm_dot__ref(t, w.data(), x.data(), n), b = fgemm_dot__avx2(t, w.data(), x.data(), n);
        EXPECT_EQ(std::memcmp(&a, &b, 4), 0) << a << " vs " << b;
      }
}

TEST(Fgemm, MatmulIsTheProductOfTheRoundedOperands) {
  std::vector<float> y;
  for (GgmlType t : {GgmlType::F16, GgmlType::BF16}) {
    const int64_t n = 96, out = 5, T = 3;
    std::vector<uint16_t> w;
    for (int64_t o = 0; o < out; ++o) {
      const auto r = random_row(t, n, static_cast<uint32_t>(o), 0.5f);
      w.insert(w.end(), r.begin(), r.end());
    }
    const auto x = testing_util::activations(T, n, 9);
    QMatrix W{t, reinterpret_cast<const uint8_t*>(w.data()), n, out, static_cast<uint64_t>(2 * n)};
    y.assign(T * out, NAN);
    ASSERT_TRUE(fgemm_matmul(W, x.data(), T, y.data(), active_isa()));
    for (int64_t tok = 0; tok < T; ++tok)
      for (int64_t o = 0; o < out; ++o) {
        double exact = 0, mag = 0;
        for (int64_t k = 0; k < n; ++k) {
          const float wk = t == GgmlType::F16 ? f16_to_f32(w[o * n + k]) : bf16_to_f32(w[o * n + k]);
          exact += static_cast<double>(wk) * x[tok * n + k];
          mag += std::fabs(static_cast<double>(wk) * x[tok * n + k]);
        }
        // activations rounded to the weight's type: 2^-11 (f16) or 2^-8 (bf16) relative
        EXPECT_NEAR(y[tok * out + o], exact, (t == GgmlType::F16 ? 1e-3 : 8e-3) * mag) << ggml_type_name(t);
      }
  }
  // Row lengths tinyBLAS does not take, and other types, are declined.
  QMatrix odd{GgmlType::F16, nullptr, 40, 1, 80}, bodd{GgmlType::BF16, nullptr, 48, 1, 96}, q{GgmlType::Q8_0, nullptr, 64, 1, 68};
  EXPECT_FALSE(fgemm_matmul(odd, nullptr, 2, nullptr, active_isa()));
  EXPECT_FALSE(fgemm_matmul(bodd, nullptr, 2, nullptr, active_isa()));
  EXPECT_FALSE(fgemm_matmul(q, nullptr, 2, nullptr, active_isa()));
}

}  // namespace
}  // namespace lowbit
