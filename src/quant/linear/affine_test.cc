#include "quant/linear/affine.h"

#include <cmath>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "core/error.h"

namespace lowbit {
namespace {

// The three code ranges every bit width comes in.
struct Mode {
  const char* name;
  bool symmetric, restricted;
};
constexpr Mode kModes[] = {{"asymmetric", false, false}, {"symmetric", true, false}, {"symmetric-restricted", true, true}};

QuantScheme scheme_of(int bits, const Mode& m) {
  QuantScheme s = QuantScheme::per_channel(bits, m.symmetric);
  s.restricted_range = m.restricted;
  return s;
}

// |x − x̂| ≤ s/2, with slack for the float division x/s and the product s·(q − z).
float half_step_bound(float s, float x) {
  return 0.5f * s * (1.0f + 1e-6f) + 4 * std::numeric_limits<float>::epsilon() * std::fabs(x);
}

// Random ranges: straddling zero, all positive, all negative, tiny, huge, a single point.
std::vector<std::pair<float, float>> some_ranges() {
  std::vector<std::pair<float, float>> r = {{-1.0f, 1.0f}, {-0.3f, 2.0f}, {0.5f, 3.0f}, {-7.0f, -2.0f},
                                            {-1e-6f, 3e-6f}, {-3e4f, 1e5f}, {0.0f, 0.0f}, {2.0f, 2.0f},
                                            {-1.0f, 0.0f}, {0.0f, 1.0f}, {-3.4e38f, 3.4e38f}};
  std::mt19937 rng(7);
  std::normal_distribution<float> n(0.0f, 1.0f);
  for (int i = 0; i < 40; ++i) {
    float a = n(rng) * std::exp2(static_cast<float>(i % 9) - 4), b = n(rng) * std::exp2(static_cast<float>(i % 7) - 3);
    if (a > b) std::swap(a, b);
    r.push_back({a, b});
  }
  return r;
}

TEST(QuantScheme, CodeRanges) {
  for (int b = kMinQuantBits; b <= kMaxQuantBits; ++b) {
    const QuantScheme a = QuantScheme::per_tensor(b, false);
    EXPECT_EQ(a.qmin(), 0);
    EXPECT_EQ(a.qmax(), (1 << b) - 1);
    const QuantScheme s = QuantScheme::per_tensor(b, true);
    EXPECT_EQ(s.qmin(), -(1 << (b - 1)));
    EXPECT_EQ(s.qmax(), (1 << (b - 1)) - 1);
    QuantScheme r = s;
    r.restricted_range = true;
    EXPECT_EQ(r.qmin(), -((1 << (b - 1)) - 1));
    EXPECT_EQ(r.qmax(), (1 << (b - 1)) - 1);
    for (const Mode& m : kModes) {  // biased codes fit b bits
      const QuantScheme q = scheme_of(b, m);
      EXPECT_LE(q.qmax() - q.qmin(), (1 << b) - 1);
      EXPECT_EQ(code_to_q(q_to_code(q.qmin(), q), q), q.qmin());
      EXPECT_EQ(q_to_code(q.qmin(), q), 0);
    }
  }
  EXPECT_EQ(QuantScheme::per_tensor(2, true).qmin(), -2);  // ternary only when restricted
}

TEST(QuantScheme, Validation) {
  EXPECT_THROW(QuantScheme::per_tensor(1, true).validate(), Error);
  EXPECT_THROW(QuantScheme::per_tensor(9, false).validate(), Error);
  QuantScheme r = QuantScheme::per_tensor(4, false);
  r.restricted_range = true;
  EXPECT_THROW(r.validate(), Error);
  EXPECT_THROW(QuantScheme::per_group(4, 0, true).validate(), Error);
  QuantScheme g = QuantScheme::per_channel(4, true);
  g.group_size = 32;
  EXPECT_THROW(g.validate(), Error);
  EXPECT_NO_THROW(QuantScheme::per_group(4, 43, true).validate_for(172));
  EXPECT_THROW(QuantScheme::per_group(4, 32, true).validate_for(172), Error);
  EXPECT_EQ(QuantScheme::per_group(4, 43, true).group_count(3, 172), 12);
  EXPECT_EQ(QuantScheme::per_channel(4, true).group_count(3, 172), 3);
  EXPECT_EQ(QuantScheme::per_tensor(4, true).group_count(3, 172), 1);
}

TEST(AffineParams, CoverTheRangeAndKeepZeroExact) {
  for (int b = kMinQuantBits; b <= kMaxQuantBits; ++b)
    for (const Mode& m : kModes) {
      const QuantScheme s = scheme_of(b, m);
      const int32_t qmin = s.qmin(), qmax = s.qmax();
      for (auto [lo, hi] : some_ranges()) {
        const AffineParams p = affine_params(lo, hi, s);
        SCOPED_TRACE(std::string(m.name) + " bits " + std::to_string(b) + " [" + std::to_string(lo) + ", " + std::to_string(hi) + "]");
        ASSERT_GT(p.scale, 0.0f);
        ASSERT_TRUE(std::isfinite(p.scale));
        ASSERT_GE(p.zero, qmin);
        ASSERT_LE(p.zero, qmax);
        if (s.symmetric) {
          EXPECT_EQ(p.zero, 0);
        }
        // Zero is a grid point: 0 → q = z → exactly +0.
        const int32_t q0 = quantize_value(0.0f, p, qmin, qmax);
        EXPECT_EQ(q0, p.zero);
        const float z = dequantize_value(q0, p);
        EXPECT_EQ(z, 0.0f);
        EXPECT_FALSE(std::signbit(z));
        EXPECT_EQ(dequantize_value(quantize_value(-0.0f, p, qmin, qmax), p), 0.0f);
        // The data's ends (and the range in between) are within half a step.
        for (float x : {lo, hi, 0.5f * lo + 0.5f * hi}) {
          if (std::fabs(x) > 1e38f) continue;  // x/s of the ±3.4e38 range still fine, product may not be
          const float xh = dequantize_value(quantize_value(x, p, qmin, qmax), p);
          EXPECT_LE(std::fabs(x - xh), half_step_bound(p.scale, x)) << x;
        }
      }
    }
  EXPECT_THROW(affine_params(1.0f, 0.0f, QuantScheme::per_tensor(4, true)), Error);
  EXPECT_THROW(affine_params(std::nanf(""), 0.0f, QuantScheme::per_tensor(4, true)), Error);
  EXPECT_THROW(affine_params(0.0f, std::numeric_limits<float>::infinity(), QuantScheme::per_tensor(4, false)), Error);
}

TEST(AffineParams, KnownValues) {
  // Symmetric full range: the negative end uses −2^(b−1). [-8, 7] at 4 bits → s = 1.
  AffineParams p = affine_params(-8.0f, 7.0f, QuantScheme::per_tensor(4, true));
  EXPECT_EQ(p.scale, 1.0f);
  EXPECT_EQ(p.zero, 0);
  // [-1, 1]: the positive end needs s = 1/7.
  p = affine_params(-1.0f, 1.0f, QuantScheme::per_tensor(4, true));
  EXPECT_FLOAT_EQ(p.scale, 1.0f / 7);
  // Asymmetric [0, 255] at 8 bits: s = 1, z = 0; [-1, 3] at 2 bits: s = 4/3, z = round(0.75) = 1.
  p = affine_params(0.0f, 255.0f, QuantScheme::per_tensor(8, false));
  EXPECT_EQ(p.scale, 1.0f);
  EXPECT_EQ(p.zero, 0);
  p = affine_params(-1.0f, 3.0f, QuantScheme::per_tensor(2, false));
  EXPECT_FLOAT_EQ(p.scale, 4.0f / 3);
  EXPECT_EQ(p.zero, 1);
  // All-positive data is widened to [0, max] so zero stays exact: z = 0.
  p = affine_params(2.0f, 5.0f, QuantScheme::per_tensor(4, false));
  EXPECT_EQ(p.zero, 0);
  EXPECT_FLOAT_EQ(p.scale, 5.0f / 15);
  // All zero: a tiny positive scale, and 0 ↦ 0.
  p = affine_params(0.0f, 0.0f, QuantScheme::per_tensor(4, false));
  EXPECT_EQ(p.scale, std::numeric_limits<float>::min());
}

TEST(Affine, RoundsHalfToEven) {
  const AffineParams p{1.0f, 0};
  EXPECT_EQ(quantize_value(0.5f, p, -8, 7), 0);
  EXPECT_EQ(quantize_value(1.5f, p, -8, 7), 2);
  EXPECT_EQ(quantize_value(2.5f, p, -8, 7), 2);
  EXPECT_EQ(quantize_value(-0.5f, p, -8, 7), 0);
  EXPECT_EQ(quantize_value(-1.5f, p, -8, 7), -2);
  EXPECT_EQ(quantize_value(std::nextafter(0.5f, 1.0f), p, -8, 7), 1);
  EXPECT_EQ(quantize_value(100.0f, p, -8, 7), 7);    // clamps
  EXPECT_EQ(quantize_value(-100.0f, p, -8, 7), -8);
  EXPECT_EQ(quantize_value(3e38f, AffineParams{std::numeric_limits<float>::min(), 3}, 0, 15), 15);  // x/s = inf
  EXPECT_EQ(quantize_value(std::nanf(""), p, -8, 7), -8);  // defined, though spans reject NaN
}

// Every x in the representable range [s(qmin − z), s(qmax − z)] comes back within s/2.
TEST(Affine, RoundTripWithinHalfStepOverTheWholeRange) {
  for (int b = kMinQuantBits; b <= kMaxQuantBits; ++b)
    for (const Mode& m : kModes) {
      const QuantScheme s = scheme_of(b, m);
      const int32_t qmin = s.qmin(), qmax = s.qmax();
      for (auto [lo, hi] : some_ranges()) {
        if (std::fabs(lo) > 1e37f || std::fabs(hi) > 1e37f) continue;
        const AffineParams p = affine_params(lo, hi, s);
        const float a = dequantize_value(qmin, p), z = dequantize_value(qmax, p);
        std::vector<float> xs;
        constexpr int kSteps = 4001;
        for (int i = 0; i <= kSteps; ++i) xs.push_back(a + (z - a) * static_cast<float>(i) / kSteps);
        for (int32_t q = qmin; q < qmax; ++q) {  // grid points, midpoints and their neighbours
          const float mid = p.scale * (static_cast<float>(q - p.zero) + 0.5f);
          for (float x : {dequantize_value(q, p), mid, std::nextafter(mid, -1e30f), std::nextafter(mid, 1e30f)}) xs.push_back(x);
        }
        for (float x : xs) {
          if (x < a || x > z) continue;
          const float xh = dequantize_value(quantize_value(x, p, qmin, qmax), p);
          ASSERT_LE(std::fabs(x - xh), half_step_bound(p.scale, x))
              << m.name << " bits " << b << " x " << x << " s " << p.scale << " z " << p.zero;
        }
      }
    }
}

// Every code of every scheme ≤ 8 bits: x̂ = s·(q − z) exactly, and x̂ re-quantizes to q.
TEST(Affine, EveryCodeDecodesAndReQuantizesToItself) {
  for (int b = kMinQuantBits; b <= kMaxQuantBits; ++b)
    for (const Mode& m : kModes) {
      const QuantScheme s = scheme_of(b, m);
      const int32_t qmin = s.qmin(), qmax = s.qmax();
      for (auto [lo, hi] : some_ranges()) {
        if (std::fabs(lo) > 1e37f || std::fabs(hi) > 1e37f) continue;
        const AffineParams p = affine_params(lo, hi, s);
        std::vector<uint8_t> codes;
        for (int32_t q = qmin; q <= qmax; ++q) codes.push_back(q_to_code(q, s));
        ASSERT_EQ(codes.size(), static_cast<size_t>(qmax - qmin + 1));
        std::vector<float> values(codes.size());
        dequantize_span(codes, p, s, values);
        for (size_t i = 0; i < codes.size(); ++i) {
          const int32_t q = code_to_q(codes[i], s);
          // The product of the float scale and an exact integer, rounded once (in double it is exact).
          const float want = static_cast<float>(static_cast<double>(p.scale) * (q - p.zero));
          ASSERT_EQ(values[i], want) << m.name << " bits " << b << " q " << q;
          ASSERT_EQ(quantize_value(values[i], p, qmin, qmax), q) << m.name << " bits " << b << " q " << q;
        }
        std::vector<uint8_t> again(codes.size());
        quantize_span(values, p, s, again);
        ASSERT_EQ(again, codes) << m.name << " bits " << b;
      }
    }
}

TEST(Affine, SpansRejectBadInput) {
  const QuantScheme s = QuantScheme::per_tensor(4, false);
  const AffineParams p = affine_params(-1.0f, 1.0f, s);
  std::vector<float> x = {0.1f, 0.2f, 0.3f, std::nanf(""), 0.5f};
  std::vector<uint8_t> codes(x.size());
  try {
    quantize_span(x, p, s, codes);
    FAIL() << "NaN accepted";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("element 3"), std::string::npos) << e.what();
  }
  x[3] = -std::numeric_limits<float>::infinity();
  EXPECT_THROW(quantize_span(x, p, s, codes), Error);
  float lo, hi;
  try {
    finite_min_max(x, &lo, &hi);
    FAIL() << "inf accepted";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("element 3"), std::string::npos) << e.what();
  }
  x[3] = 0.4f;
  std::vector<uint8_t> short_codes(2);
  EXPECT_THROW(quantize_span(x, p, s, short_codes), Error);
  EXPECT_THROW(quantize_span(x, AffineParams{0.0f, 0}, s, codes), Error);
  EXPECT_THROW(quantize_span(x, AffineParams{1.0f, 16}, s, codes), Error);
  std::vector<float> out(2);
  EXPECT_THROW(dequantize_span(std::vector<uint8_t>{1, 16}, p, s, out), Error);  // 16 > 15 at 4 bits
  finite_min_max(std::span<const float>(), &lo, &hi);
  EXPECT_EQ(lo, 0.0f);
  EXPECT_EQ(hi, 0.0f);
}

}  // namespace
}  // namespace lowbit
