// Round-trip properties of every codec over rows of many shapes: no NaN or Inf ever, and each
// element's error bounded by a fraction of its block's largest magnitude.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <random>

#include <gtest/gtest.h>

#include "core/half.h"
#include "quant/codecs/blocks.h"
#include "quant/codecs/codec.h"
#include "quant/codecs/codec_testing.h"

namespace lowbit {
namespace {

using testing::kAllRowKinds;
using testing::make_row;
using testing::round_trip;
using testing::row_kind_name;
using testing::RowKind;

// |x - x^| <= rel * amax(group) + abs for every element, the group being the block (or the
// super-block for the K-quants, whose sub-scales are relative to the super-block's largest).
// rel: for the plain-rounding types, half a grid step (a full step where one grid end clamps)
// plus f16 rounding of the scale; for the searching types, measured worst cases with margin.
// abs: the f16 scale's absolute rounding at the bottom of its range (2^-25, half the smallest
// subnormal) times the largest code magnitude it multiplies: below that no f16 scale exists.
struct Bound {
  GgmlType type;
  int group;
  double rel;
  double abs;
};

constexpr double kF16Floor = 2.9802322387695312e-08;  // 2^-25

const Bound kBounds[] = {
    {GgmlType::F16, 1, 1.0 / 2048, kF16Floor},
    {GgmlType::BF16, 1, 1.0 / 256, 0},
    {GgmlType::F32, 1, 0, 0},
    {GgmlType::Q8_0, 32, 1.0 / 254 + 1.0 / 1024, 127 * kF16Floor},
    {GgmlType::Q8_1, 32, 1.0 / 254 + 1.0 / 1024, 127 * kF16Floor},
    {GgmlType::Q8_K, 256, 1.0 / 254 + 1e-6, 0},
    {GgmlType::Q4_0, 32, 1.0 / 8 + 1.0 / 1024, 8 * kF16Floor},
    {GgmlType::Q4_1, 32, 1.0 / 15 + 1.0 / 512, 16 * kF16Floor},
    {GgmlType::Q5_0, 32, 1.0 / 16 + 1.0 / 1024, 16 * kF16Floor},
    {GgmlType::Q5_1, 32, 1.0 / 31 + 1.0 / 512, 32 * kF16Floor},
    {GgmlType::IQ4_NL, 32, 0.17, 127 * kF16Floor},
    {GgmlType::IQ4_XS, 256, 0.15, 32 * 127 * kF16Floor},
    {GgmlType::Q2_K, 256, 0.50, 2 * 15 * 3 * kF16Floor},
    {GgmlType::Q3_K, 256, 0.28, 32 * 4 * kF16Floor},
    {GgmlType::Q4_K, 256, 0.13, 2 * 63 * 15 * kF16Floor},
    {GgmlType::Q5_K, 256, 0.08, 2 * 63 * 31 * kF16Floor},
    {GgmlType::Q6_K, 256, 0.025, 128 * 32 * kF16Floor},
    {GgmlType::TQ1_0, 256, 0.5 + 1.0 / 1024, kF16Floor},
    {GgmlType::TQ2_0, 256, 0.5 + 1.0 / 1024, kF16Floor},
};

class RoundTrip : public ::testing::TestWithParam<Bound> {};

TEST_P(RoundTrip, FiniteAndBoundedOnEveryRowKind) {
  const Bound b = GetParam();
  ASSERT_NE(codec_for(b.type), nullptr);
  std::mt19937 rng(1234);
  constexpr int64_t kN = 1024;
  double worst = 0;  // max over elements of (err - abs) / amax, for the record
  for (RowKind kind : kAllRowKinds) {
    SCOPED_TRACE(row_kind_name(kind));
    for (int rep = 0; rep < 64; ++rep) {
      const std::vector<float> x = make_row(kind, kN, rng);
      const std::vector<float> y = round_trip(b.type, x);
      for (int64_t g = 0; g < kN; g += b.group) {
        float amax = 0;
        for (int64_t i = g; i < g + b.group; ++i) amax = std::max(amax, std::fabs(x[i]));
        for (int64_t i = g; i < g + b.group; ++i) {
          ASSERT_TRUE(std::isfinite(y[i])) << "element " << i << " x=" << x[i];
          const double err = std::fabs(static_cast<double>(x[i]) - y[i]);
          ASSERT_LE(err, b.rel * amax + b.abs) << "element " << i << " x=" << x[i] << " y=" << y[i]
                                               << " block amax=" << amax;
          if (amax > 0) worst = std::max(worst, (err - b.abs) / amax);
        }
      }
    }
  }
  std::printf("[ %s ] worst error / block amax: %.4f (bound %.4f)\n", testing::type_name(b.type).c_str(),
              worst, b.rel);
}

INSTANTIATE_TEST_SUITE_P(Codecs, RoundTrip, ::testing::ValuesIn(kBounds),
                         [](const auto& info) { return testing::type_name(info.param.type); });

TEST(RoundTrip, EveryCodecHasABound) {
  int n = 0;
  const QuantCodec* codecs = all_codecs(&n);
  for (int i = 0; i < n; ++i) {
    const bool found = std::any_of(std::begin(kBounds), std::end(kBounds),
                                   [&](const Bound& b) { return b.type == codecs[i].type; });
    EXPECT_TRUE(found) << ggml_type_name(codecs[i].type);
  }
}

// Q8_0's bound exactly: q = round(x / d) with d = amax / 127 gives |x - q d| <= d / 2; storing
// d as f16 (d16) moves each value by |q| |d - d16| <= 127 |d - d16|.
TEST(RoundTrip, Q8_0ErrorWithinHalfAStep) {
  std::mt19937 rng(7);
  for (RowKind kind : kAllRowKinds) {
    SCOPED_TRACE(row_kind_name(kind));
    for (int rep = 0; rep < 32; ++rep) {
      const std::vector<float> x = make_row(kind, 256, rng);
      const std::vector<uint8_t> q = testing::quantize(GgmlType::Q8_0, x);
      const std::vector<float> y = testing::dequantize(GgmlType::Q8_0, q, 256);
      const auto* blocks = reinterpret_cast<const BlockQ8_0*>(q.data());
      for (int b = 0; b < 8; ++b) {
        float amax = 0;
        for (int j = 0; j < 32; ++j) amax = std::max(amax, std::fabs(x[32 * b + j]));
        const double d = amax / 127.0;
        const double d16 = f16_to_f32(blocks[b].d);
        EXPECT_LE(std::fabs(d - d16), std::max(d * std::ldexp(1.0, -11), kF16Floor) * (1 + 1e-6));
        for (int j = 0; j < 32; ++j) {
          const double err = std::fabs(static_cast<double>(x[32 * b + j]) - y[32 * b + j]);
          ASSERT_LE(err, d / 2 + 127 * std::fabs(d - d16) + 1e-6 * d) << "block " << b << " j " << j;
        }
      }
    }
  }
}

// Re-quantizing what Q8_0 / Q4_0 decoded gives the same bytes: the scale is recovered
// exactly (the extreme element decodes to +-127 d16, resp. -8 d16, and dividing back is exact)
// and every code re-rounds to itself.
TEST(RoundTrip, RequantizingIsStable) {
  std::mt19937 rng(99);
  for (GgmlType t : {GgmlType::Q8_0, GgmlType::Q4_0}) {
    for (RowKind kind : kAllRowKinds) {
      SCOPED_TRACE(testing::type_name(t) + " " + row_kind_name(kind));
      for (int rep = 0; rep < 32; ++rep) {
        const std::vector<float> x = make_row(kind, 512, rng);
        const std::vector<uint8_t> q1 = testing::quantize(t, x);
        const std::vector<float> y = testing::dequantize(t, q1, 512);
        const std::vector<uint8_t> q2 = testing::quantize(t, y);
        ASSERT_EQ(testing::dequantize(t, q2, 512), y);
        // Blocks whose scale underflowed f16 decode to zeros whatever their codes; re-quantizing
        // zeros gives zero codes, so only the blocks with a scale must match byte for byte.
        const size_t bs = ggml_traits(t).type_size;
        for (size_t off = 0; off < q1.size(); off += bs) {
          uint16_t d16;
          std::memcpy(&d16, q1.data() + off, 2);  // both blocks start with their f16 scale
          if ((d16 & 0x7fff) == 0) continue;
          ASSERT_EQ(0, std::memcmp(q1.data() + off, q2.data() + off, bs)) << "block " << off / bs;
        }
      }
    }
  }
}

// The activation formats' side data: Q8_1's s = d * sum(q), Q8_K's bsums = sums of 16 codes.
TEST(RoundTrip, ActivationFormatsCarryTheirSums) {
  std::mt19937 rng(5);
  for (RowKind kind : kAllRowKinds) {
    SCOPED_TRACE(row_kind_name(kind));
    const std::vector<float> x = make_row(kind, 512, rng);
    const std::vector<uint8_t> q1 = testing::quantize(GgmlType::Q8_1, x);
    for (int b = 0; b < 16; ++b) {
      const auto& blk = reinterpret_cast<const BlockQ8_1*>(q1.data())[b];
      int sum = 0;
      for (int j = 0; j < 32; ++j) sum += blk.qs[j];
      float amax = 0;
      for (int j = 0; j < 32; ++j) amax = std::max(amax, std::fabs(x[32 * b + j]));
      EXPECT_EQ(blk.s, f32_to_f16(static_cast<float>(sum) * (amax / 127))) << b;
    }
    const std::vector<uint8_t> qk = testing::quantize(GgmlType::Q8_K, x);
    for (int b = 0; b < 2; ++b) {
      const auto& blk = reinterpret_cast<const BlockQ8K*>(qk.data())[b];
      for (int s = 0; s < 16; ++s) {
        int sum = 0;
        for (int j = 0; j < 16; ++j) sum += blk.qs[16 * s + j];
        EXPECT_EQ(blk.bsums[s], sum);
      }
      for (int j = 0; j < 256; ++j) {
        EXPECT_LE(std::fabs(x[256 * b + j] - blk.d * blk.qs[j]), std::fabs(blk.d) * 0.5f * (1 + 1e-5f));
        EXPECT_GE(blk.qs[j], -127);
      }
    }
  }
}

// Non-finite or enormous input is garbage in, but never undefined behaviour, and it stays in
// its block: the other blocks of the row come out as if quantized alone.
TEST(RoundTrip, NonFiniteInputStaysInItsBlock) {
  std::mt19937 rng(31);
  int n = 0;
  const QuantCodec* all = all_codecs(&n);
  for (int c = 0; c < n; ++c) {
    const GgmlType t = all[c].type;
    SCOPED_TRACE(testing::type_name(t));
    std::vector<float> x = make_row(RowKind::Normal, 1024, rng);
    x[3] = NAN;
    x[256 + 7] = INFINITY;
    x[256 + 9] = -INFINITY;
    const std::vector<float> y = round_trip(t, x);
    const std::vector<float> tail(x.begin() + 512, x.end());
    const std::vector<float> y_tail = round_trip(t, tail);
    for (int i = 0; i < 512; ++i) ASSERT_EQ(f32_bits(y[512 + i]), f32_bits(y_tail[i])) << i;
    // Values at the edge of float's range: scales overflow f16 to inf (as in ggml), no crash.
    std::vector<float> huge = make_row(RowKind::Normal, 1024, rng);
    for (auto& v : huge) v *= 3e37f;
    (void)round_trip(t, huge);
  }
}

}  // namespace
}  // namespace lowbit
