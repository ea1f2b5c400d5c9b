// Activation quantization (act_quant.h) against the plain definition: d = amax / 127 as f16,
// q = nearbyint(x · 127 / amax) (half to even), s = f16(d · Σq) — on random rows, on rows whose
// scaled values are exact ties (amax = 127, so id = 1 and x = k + 0.5), and on zero rows.
#include <cmath>
#include <cstring>
#include <random>
#include <vector>

#include <gtest/gtest.h>

#include "core/half.h"
#include "kernels/act_quant.h"
#include "quant/codecs/blocks.h"

namespace lowbit {
namespace {

void expect_definition(const std::vector<float>& x) {
  const int64_t n = static_cast<int64_t>(x.size());
  std::vector<BlockQ8_0> y0(n / 32);
  std::vector<BlockQ8_1> y1(n / 32);
  quantize_act_q8_0(x.data(), y0.data(), n);
  quantize_act_q8_1(x.data(), y1.data(), n);
  for (int64_t b = 0; b < n / 32; ++b) {
    float amax = 0;
    for (int j = 0; j < 32; ++j) amax = std::fmax(amax, std::fabs(x[32 * b + j]));
    const float id = amax != 0 ? 127.f / amax : 0.f;
    int sum = 0;
    for (int j = 0; j < 32; ++j) {
      const int q = static_cast<int>(std::nearbyint(x[32 * b + j] * id));
      ASSERT_EQ(y0[b].qs[j], q) << "block " << b << " element " << j << " x " << x[32 * b + j];
      ASSERT_EQ(y1[b].qs[j], q);
      sum += q;
    }
    EXPECT_EQ(y0[b].d, f32_to_f16(amax / 127.f));
    EXPECT_EQ(y1[b].d, f32_to_f16(amax / 127.f));
    EXPECT_EQ(y1[b].s, f32_to_f16(amax / 127.f * static_cast<float>(sum)));
  }
}

TEST(ActQuant, RandomRowsMatchTheDefinition) {
  std::mt19937 rng(3);
  std::normal_distribution<float> nd(0.0f, 2.0f);
  std::vector<float> x(32 * 64);
  for (float& v : x) v = nd(rng);
  for (int b = 0; b < 64; b += 7) x[32 * b + b % 32] *= 50.0f;   // outliers
  expect_definition(x);
}

TEST(ActQuant, TiesRoundToEven) {
  std::vector<float> x(64);
  for (int j = 0; j < 64; ++j) x[j] = static_cast<float>(j % 32 - 16) + 0.5f;   // k + 0.5
  x[0] = 127.0f;
  x[32] = -127.0f;
  expect_definition(x);
  EXPECT_EQ(std::nearbyint(2.5f), 2.0f);   // the definition really is half-to-even here
}

TEST(ActQuant, ZeroRowsGiveZeroCodes) {
  std::vector<float> x(96, 0.0f);
  x[40] = -0.0f;
  expect_definition(x);
}

}  // namespace
}  // namespace lowbit
