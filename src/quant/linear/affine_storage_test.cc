// QuantScheme's storage constraints (f16_scale, zero_at_least_one), which the Hugging Face
// GPTQ export needs so the file holds exactly what was quantized: scales are float16 values,
// asymmetric zero points are ≥ 1, and the s/2 error bound of affine_params still holds.
#include <cmath>
#include <random>

#include <gtest/gtest.h>

#include "core/error.h"
#include "core/half.h"
#include "quant/linear/affine.h"
#include "quant/linear/quantized_tensor.h"

namespace lowbit {
namespace {

bool is_f16(float s) { return f16_to_f32(f32_to_f16(s)) == s; }

TEST(AffineStorage, F16RoundUpIsTheSmallestHalfAtOrAbove) {
  EXPECT_EQ(f16_round_up(1.0f), 1.0f);
  EXPECT_EQ(f16_round_up(1.0f + 1e-6f), 1.0f + 1.0f / 1024);   // next half above 1 is 1 + 2^-10
  EXPECT_EQ(f16_round_up(1e-30f), std::ldexp(1.0f, -24));      // smallest subnormal half
  EXPECT_EQ(f16_round_up(1e9f), 65504.0f);                      // clamped to the largest half
  std::mt19937 rng(3);
  for (int k = 0; k < 100000; ++k) {
    const float x = std::ldexp(1.0f + (rng() % 100000) / 100000.0f, static_cast<int>(rng() % 40) - 30);
    const float r = f16_round_up(x);
    ASSERT_TRUE(is_f16(r)) << x;
    ASSERT_GE(r, x);
    ASSERT_LT(f16_to_f32(static_cast<uint16_t>(f32_to_f16(r) - 1)), x) << x;   // the half below is too small
  }
}

TEST(AffineStorage, ConstrainedParamsStillCoverTheRange) {
  std::mt19937 rng(11);
  for (int bits : {2, 3, 4, 8})
    for (bool sym : {true, false})
      for (int k = 0; k < 20000; ++k) {
        QuantScheme s = QuantScheme::per_tensor(bits, sym);
        s.f16_scale = true;
        s.zero_at_least_one = !sym;
        const float mag = std::ldexp(1.0f, static_cast<int>(rng() % 20) - 14);
        float lo = -mag * static_cast<float>(rng() % 1000) / 1000.0f;
        float hi = mag * static_cast<float>(rng() % 1000) / 1000.0f;
        if (k % 5 == 0) lo = mag * static_cast<float>(rng() % 1000) / 2000.0f;   // all positive: z would be 0
        if (lo > hi) std::swap(lo, hi);
        const AffineParams p = affine_params(lo, hi, s);
        ASSERT_TRUE(is_f16(p.scale)) << p.scale;
        if (!sym) {
          ASSERT_GE(p.zero, 1) << lo << " " << hi;
          ASSERT_LE(p.zero, s.qmax());
        }
        // Every value of [min(lo, 0), max(hi, 0)] within s/2 of the grid (float slack).
        for (float x : {std::min(lo, 0.0f), std::max(hi, 0.0f), lo, hi, 0.5f * (lo + hi)}) {
          const float xh = fake_quantize_value(x, p, s.qmin(), s.qmax());
          ASSERT_LE(std::fabs(x - xh), 0.5f * p.scale * (1 + 1e-5f) + 1e-30f)
              << bits << (sym ? " sym " : " asym ") << lo << " " << hi << " x " << x;
        }
        ASSERT_EQ(fake_quantize_value(0.0f, p, s.qmin(), s.qmax()), 0.0f);   // zero stays exact
      }
}

TEST(AffineStorage, ZeroAtLeastOneIsForAsymmetricSchemes) {
  QuantScheme s = QuantScheme::per_channel(4, true);
  s.zero_at_least_one = true;
  EXPECT_THROW(s.validate(), Error);
  // All-zero and all-positive groups: z = 1, one step below zero.
  s = QuantScheme::per_group(4, 8, false);
  s.zero_at_least_one = true;
  s.f16_scale = true;
  const std::vector<float> x = {0, 0, 0, 0, 0, 0, 0, 0, 0.5f, 1, 2, 3, 4, 5, 6, 7};
  const QuantizedTensor q = quantize_tensor(x.data(), 1, 16, s);
  EXPECT_EQ(q.zeros[0], 1);
  EXPECT_EQ(q.zeros[1], 1);
  EXPECT_EQ(q.scales[1], 0.5f);   // max(7 / 14, 0) = 0.5, a half
  const std::vector<float> back = dequantize_tensor(q);
  for (int i = 0; i < 8; ++i) EXPECT_EQ(back[i], 0.0f);
  for (int i = 8; i < 16; ++i) EXPECT_EQ(back[i], x[i]);
}

}  // namespace
}  // namespace lowbit
