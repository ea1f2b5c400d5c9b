#include "quant/linear/fp8.h"

#include <cmath>
#include <limits>
#include <random>
#include <vector>

#include <gtest/gtest.h>

#include "core/error.h"
#include "core/half.h"

namespace lowbit {
namespace {

constexpr Fp8Format kFormats[] = {Fp8Format::E4M3, Fp8Format::E5M2};
constexpr Fp8Overflow kModes[] = {Fp8Overflow::Saturate, Fp8Overflow::NonFinite};

// The value of a code straight from the OCP formulas, written independently of fp8.cc:
// normal (−1)^S · 2^(e − bias) · (1 + m/2^M), subnormal (−1)^S · 2^(1 − bias) · m/2^M.
double spec_value(uint8_t c, Fp8Format f) {
  const bool e4m3 = f == Fp8Format::E4M3;
  const int M = e4m3 ? 3 : 2, bias = e4m3 ? 7 : 15, emax_field = e4m3 ? 15 : 31;
  const int e = (c & 0x7F) >> M, m = c & ((1 << M) - 1);
  const double sign = (c & 0x80) ? -1.0 : 1.0;
  if (e4m3 && e == 15 && m == 7) return std::numeric_limits<double>::quiet_NaN();
  if (!e4m3 && e == emax_field) return m == 0 ? sign * std::numeric_limits<double>::infinity() : std::numeric_limits<double>::quiet_NaN();
  if (e == 0) return sign * std::ldexp(static_cast<double>(m), 1 - bias - M);
  return sign * std::ldexp(static_cast<double>((1 << M) + m), e - bias - M);
}

bool is_nan_code(uint8_t c, Fp8Format f) { return std::isnan(spec_value(c, f)); }

// Brute-force reference encoder: the nearest of all finite magnitudes plus the value one ulp
// above the max (standing for "overflow"), ties to the even code.
uint8_t reference_encode(float x, Fp8Format f, Fp8Overflow o) {
  const uint8_t sign = std::signbit(x) ? 0x80 : 0;
  const uint8_t max_code = f == Fp8Format::E4M3 ? 0x7E : 0x7B;
  const uint8_t over = o == Fp8Overflow::Saturate ? max_code : (f == Fp8Format::E4M3 ? 0x7F : 0x7C);
  if (std::isnan(x)) return sign | 0x7F;
  if (std::isinf(x)) return sign | over;
  const double a = std::fabs(static_cast<double>(x));
  const double max = spec_value(max_code, f), below = spec_value(max_code - 1, f);
  const double past = max + (max - below);  // the next value an unbounded exponent would give
  if (a >= past) return sign | over;        // (and far above it the distances below lose precision)
  int best = -1;
  double best_d = 0;
  for (int c = 0; c <= max_code + 1; ++c) {
    const double v = c <= max_code ? spec_value(static_cast<uint8_t>(c), f) : past;
    const double d = std::fabs(a - v);
    if (best < 0 || d < best_d || (d == best_d && (c & 1) == 0)) {
      best = c;
      best_d = d;
    }
  }
  if (best > max_code) return sign | over;
  return sign | static_cast<uint8_t>(best);
}

TEST(Fp8, TraitsMatchTheSpec) {
  const Fp8Traits& a = fp8_traits(Fp8Format::E4M3);
  EXPECT_EQ(a.exp_bits, 4);
  EXPECT_EQ(a.mant_bits, 3);
  EXPECT_EQ(a.bias, 7);
  EXPECT_EQ(a.max_finite, 448.0f);
  EXPECT_EQ(a.min_subnormal, std::ldexp(1.0f, -9));
  EXPECT_EQ(a.min_normal, std::ldexp(1.0f, -6));
  EXPECT_FALSE(a.has_inf);
  const Fp8Traits& b = fp8_traits(Fp8Format::E5M2);
  EXPECT_EQ(b.exp_bits, 5);
  EXPECT_EQ(b.mant_bits, 2);
  EXPECT_EQ(b.bias, 15);
  EXPECT_EQ(b.max_finite, 57344.0f);
  EXPECT_EQ(b.min_subnormal, std::ldexp(1.0f, -16));
  EXPECT_EQ(b.min_normal, std::ldexp(1.0f, -14));
  EXPECT_TRUE(b.has_inf);
  for (Fp8Format f : kFormats) {
    EXPECT_EQ(spec_value(fp8_traits(f).max_code, f), fp8_traits(f).max_finite);
    EXPECT_TRUE(is_nan_code(fp8_traits(f).nan_code, f));
  }
}

TEST(Fp8, EveryCodeDecodesToTheSpecValueAndReEncodes) {
  for (Fp8Format f : kFormats) {
    int nans = 0;
    for (int c = 0; c < 256; ++c) {
      const uint8_t code = static_cast<uint8_t>(c);
      const double want = spec_value(code, f);
      const float got = fp8_to_f32(code, f);
      if (std::isnan(want)) {
        ++nans;
        ASSERT_TRUE(std::isnan(got)) << fp8_traits(f).name << " code " << c;
        EXPECT_EQ(std::signbit(got), (c & 0x80) != 0);
        for (Fp8Overflow o : kModes)  // any NaN payload re-encodes to the canonical NaN
          EXPECT_EQ(f32_to_fp8(got, f, o), (c & 0x80) | 0x7F) << c;
        continue;
      }
      ASSERT_EQ(static_cast<double>(got), want) << fp8_traits(f).name << " code " << c;
      EXPECT_EQ(std::signbit(got), (c & 0x80) != 0) << c;  // −0 stays −0
      if (std::isinf(want)) {
        EXPECT_EQ(f32_to_fp8(got, f, Fp8Overflow::NonFinite), code);
        EXPECT_EQ(f32_to_fp8(got, f, Fp8Overflow::Saturate), (c & 0x80) | 0x7B);
        continue;
      }
      for (Fp8Overflow o : kModes) ASSERT_EQ(f32_to_fp8(got, f, o), code) << fp8_traits(f).name << " code " << c;
    }
    EXPECT_EQ(nans, f == Fp8Format::E4M3 ? 2 : 6);
  }
}

TEST(Fp8, KnownValues) {
  constexpr auto E4 = Fp8Format::E4M3;
  constexpr auto E5 = Fp8Format::E5M2;
  EXPECT_EQ(f32_to_fp8(448.0f, E4), 0x7E);
  EXPECT_EQ(f32_to_fp8(-448.0f, E4), 0xFE);
  EXPECT_EQ(fp8_to_f32(0x7E, E4), 448.0f);
  EXPECT_EQ(f32_to_fp8(std::ldexp(1.0f, -9), E4), 0x01);
  EXPECT_EQ(fp8_to_f32(0x01, E4), std::ldexp(1.0f, -9));
  EXPECT_EQ(f32_to_fp8(std::ldexp(1.0f, -6), E4), 0x08);  // min normal
  EXPECT_EQ(f32_to_fp8(1.0f, E4), 0x38);
  EXPECT_EQ(fp8_to_f32(0x07, E4), 7 * std::ldexp(1.0f, -9));  // max subnormal
  EXPECT_EQ(f32_to_fp8(57344.0f, E5), 0x7B);
  EXPECT_EQ(fp8_to_f32(0x7B, E5), 57344.0f);
  EXPECT_EQ(fp8_to_f32(0x7C, E5), std::numeric_limits<float>::infinity());
  EXPECT_EQ(fp8_to_f32(0xFC, E5), -std::numeric_limits<float>::infinity());
  EXPECT_EQ(f32_to_fp8(std::numeric_limits<float>::infinity(), E5, Fp8Overflow::NonFinite), 0x7C);
  EXPECT_EQ(f32_to_fp8(std::ldexp(1.0f, -16), E5), 0x01);
  EXPECT_EQ(f32_to_fp8(1.0f, E5), 0x3C);
  EXPECT_EQ(f32_to_fp8(0.0f, E4), 0x00);
  EXPECT_EQ(f32_to_fp8(-0.0f, E4), 0x80);
  EXPECT_EQ(f32_to_fp8(-0.0f, E5), 0x80);
  // E5M2 is the top byte of an F16.
  for (int c = 0; c < 256; ++c)
    if (!is_nan_code(static_cast<uint8_t>(c), E5)) {
      EXPECT_EQ(fp8_to_f16(static_cast<uint8_t>(c), E5), c << 8);
    }
}

TEST(Fp8, RoundsTiesToEven) {
  constexpr auto E4 = Fp8Format::E4M3;
  constexpr auto E5 = Fp8Format::E5M2;
  EXPECT_EQ(f32_to_fp8(1.0625f, E4), 0x38);   // 1 | 1.125: tie → 1.0 (m = 000)
  EXPECT_EQ(f32_to_fp8(1.1875f, E4), 0x3A);   // 1.125 | 1.25: tie → 1.25 (m = 010)
  EXPECT_EQ(f32_to_fp8(std::nextafter(1.0625f, 2.0f), E4), 0x39);
  EXPECT_EQ(f32_to_fp8(15.5f, E4), 0x58);     // 15 (0x57) | 16 (0x58): the tie crosses the binade to even
  EXPECT_EQ(f32_to_fp8(std::ldexp(1.0f, -10), E4), 0x00);      // half the min subnormal → 0
  EXPECT_EQ(f32_to_fp8(std::ldexp(3.0f, -10), E4), 0x02);      // 1 | 2 subnormal units → 2
  EXPECT_EQ(f32_to_fp8(std::ldexp(15.0f, -10), E4), 0x08);     // max subnormal | min normal → min normal
  EXPECT_EQ(f32_to_fp8(std::nextafter(std::ldexp(1.0f, -10), 1.0f), E4), 0x01);
  EXPECT_EQ(f32_to_fp8(1.125f, E5), 0x3C);    // 1 | 1.25 → 1.0
  EXPECT_EQ(f32_to_fp8(1.375f, E5), 0x3E);    // 1.25 | 1.5 → 1.5
  EXPECT_EQ(f32_to_fp8(std::ldexp(1.0f, -17), E5), 0x00);
  EXPECT_EQ(f32_to_fp8(std::ldexp(3.0f, -17), E5), 0x02);
  // Every midpoint between neighbouring finite codes goes to the even code, both signs.
  for (Fp8Format f : kFormats) {
    const int max_code = fp8_traits(f).max_code;
    for (int c = 0; c < max_code; ++c) {
      const double mid = (spec_value(static_cast<uint8_t>(c), f) + spec_value(static_cast<uint8_t>(c + 1), f)) / 2;
      const float m = static_cast<float>(mid);
      ASSERT_EQ(static_cast<double>(m), mid);
      const uint8_t even = static_cast<uint8_t>((c & 1) ? c + 1 : c);
      ASSERT_EQ(f32_to_fp8(m, f), even) << fp8_traits(f).name << " " << mid;
      ASSERT_EQ(f32_to_fp8(-m, f), 0x80 | even) << fp8_traits(f).name << " " << -mid;
    }
  }
}

TEST(Fp8, OverflowSaturatesOrGoesNonFinite) {
  constexpr auto E4 = Fp8Format::E4M3;
  constexpr auto E5 = Fp8Format::E5M2;
  constexpr auto Sat = Fp8Overflow::Saturate;
  constexpr auto Non = Fp8Overflow::NonFinite;
  const float inf = std::numeric_limits<float>::infinity();
  // E4M3: 464 is the tie between 448 (m = 110, even) and the missing 480: stays 448.
  EXPECT_EQ(f32_to_fp8(464.0f, E4, Non), 0x7E);
  EXPECT_EQ(f32_to_fp8(std::nextafter(464.0f, 0.0f), E4, Non), 0x7E);
  EXPECT_EQ(f32_to_fp8(std::nextafter(464.0f, 1e9f), E4, Non), 0x7F);
  EXPECT_EQ(f32_to_fp8(std::nextafter(464.0f, 1e9f), E4, Sat), 0x7E);
  EXPECT_EQ(f32_to_fp8(-1e6f, E4, Non), 0xFF);
  EXPECT_EQ(f32_to_fp8(-1e6f, E4, Sat), 0xFE);
  EXPECT_EQ(f32_to_fp8(inf, E4, Sat), 0x7E);
  EXPECT_EQ(f32_to_fp8(-inf, E4, Sat), 0xFE);
  EXPECT_EQ(f32_to_fp8(inf, E4, Non), 0x7F);
  EXPECT_EQ(f32_to_fp8(-inf, E4, Non), 0xFF);
  EXPECT_EQ(f32_to_fp8(std::numeric_limits<float>::max(), E4, Sat), 0x7E);
  // E5M2: 61440 is the tie between 57344 (m = 11) and 65536 (even): overflows, like F16's 65520.
  EXPECT_EQ(f32_to_fp8(61440.0f, E5, Non), 0x7C);
  EXPECT_EQ(f32_to_fp8(61440.0f, E5, Sat), 0x7B);
  EXPECT_EQ(f32_to_fp8(std::nextafter(61440.0f, 0.0f), E5, Non), 0x7B);
  EXPECT_EQ(f32_to_fp8(-1e30f, E5, Non), 0xFC);
  EXPECT_EQ(f32_to_fp8(-1e30f, E5, Sat), 0xFB);
  EXPECT_EQ(f32_to_fp8(inf, E5, Sat), 0x7B);
  EXPECT_EQ(f32_to_fp8(-inf, E5, Non), 0xFC);
  // NaN stays NaN in both modes, sign kept, payload canonicalised.
  for (Fp8Format f : kFormats)
    for (Fp8Overflow o : kModes) {
      EXPECT_EQ(f32_to_fp8(std::numeric_limits<float>::quiet_NaN(), f, o), 0x7F);
      EXPECT_EQ(f32_to_fp8(-std::numeric_limits<float>::quiet_NaN(), f, o), 0xFF);
      EXPECT_EQ(f32_to_fp8(f32_from_bits(0x7f800001u), f, o), 0x7F);  // signalling, payload 1
      EXPECT_EQ(f32_to_fp8(f32_from_bits(0xffbfffffu), f, o), 0xFF);
    }
}

TEST(Fp8, MatchesBruteForceNearest) {
  std::vector<float> xs;
  // Around every code: the value, its float neighbours, and the midpoints and their neighbours.
  for (Fp8Format f : kFormats)
    for (int c = 0; c < 128; ++c) {
      const double v = spec_value(static_cast<uint8_t>(c), f);
      if (!std::isfinite(v)) continue;
      const double next = c + 1 <= fp8_traits(f).max_code ? spec_value(static_cast<uint8_t>(c + 1), f) : 2 * v;
      for (double p : {v, (v + next) / 2}) {
        const float pf = static_cast<float>(p);
        for (float q : {pf, std::nextafter(pf, 0.0f), std::nextafter(pf, 1e30f)}) {
          xs.push_back(q);
          xs.push_back(-q);
        }
      }
    }
  std::mt19937 rng(1234);
  std::uniform_int_distribution<uint32_t> bits;
  std::uniform_real_distribution<float> log2mag(-22.0f, 18.0f);
  for (int i = 0; i < 200000; ++i) {
    xs.push_back(f32_from_bits(bits(rng)));                           // anything, including NaN/inf/subnormals
    xs.push_back((i & 1 ? -1 : 1) * std::exp2(log2mag(rng)));         // the fp8 ranges, densely
  }
  for (float sub : {std::numeric_limits<float>::denorm_min(), std::numeric_limits<float>::min()}) xs.push_back(sub);
  for (Fp8Format f : kFormats)
    for (Fp8Overflow o : kModes)
      for (float x : xs)
        ASSERT_EQ(f32_to_fp8(x, f, o), reference_encode(x, f, o))
            << fp8_traits(f).name << " x=" << x << " bits=0x" << std::hex << f32_bits(x);
}

TEST(Fp8, HalfAndBFloat16Casts) {
  for (Fp8Format f : kFormats) {
    for (int c = 0; c < 256; ++c) {
      const uint8_t code = static_cast<uint8_t>(c);
      const float v = fp8_to_f32(code, f);
      const float h = f16_to_f32(fp8_to_f16(code, f)), b = bf16_to_f32(fp8_to_bf16(code, f));
      if (std::isnan(v)) {
        EXPECT_TRUE(std::isnan(h) && std::isnan(b)) << c;
        EXPECT_EQ(f16_to_fp8(fp8_to_f16(code, f), f), (c & 0x80) | 0x7F);
        continue;
      }
      EXPECT_EQ(h, v) << c;  // exact: F16 and BF16 hold every fp8 value
      EXPECT_EQ(b, v) << c;
      EXPECT_EQ(std::signbit(h), std::signbit(v));
      for (Fp8Overflow o : kModes) {
        if (std::isinf(v) && o == Fp8Overflow::Saturate) continue;
        EXPECT_EQ(f16_to_fp8(fp8_to_f16(code, f), f, o), code) << c;
        EXPECT_EQ(bf16_to_fp8(fp8_to_bf16(code, f), f, o), code) << c;
      }
    }
    // Every F16 and every BF16 encodes as its float value would (one rounding, no double rounding).
    for (uint32_t u = 0; u < 65536; ++u) {
      const uint16_t h = static_cast<uint16_t>(u);
      for (Fp8Overflow o : kModes) {
        ASSERT_EQ(f16_to_fp8(h, f, o), reference_encode(f16_to_f32(h), f, o)) << std::hex << u;
        ASSERT_EQ(bf16_to_fp8(h, f, o), reference_encode(bf16_to_f32(h), f, o)) << std::hex << u;
      }
    }
  }
}

TEST(Fp8, Spans) {
  const std::vector<float> x = {0.0f, 1.0f, -2.5f, 448.0f, 1000.0f, 0.001f};
  std::vector<uint8_t> codes(x.size());
  f32_to_fp8(x, codes, Fp8Format::E4M3);
  std::vector<float> back(x.size());
  fp8_to_f32(codes, back, Fp8Format::E4M3);
  for (size_t i = 0; i < x.size(); ++i) {
    EXPECT_EQ(codes[i], f32_to_fp8(x[i], Fp8Format::E4M3));
    EXPECT_EQ(back[i], fp8_to_f32(codes[i], Fp8Format::E4M3));
  }
  EXPECT_EQ(back[4], 448.0f);  // saturating by default
  std::vector<uint8_t> short_codes(2);
  EXPECT_THROW(f32_to_fp8(x, short_codes, Fp8Format::E5M2), Error);
  EXPECT_THROW(fp8_to_f32(short_codes, back, Fp8Format::E5M2), Error);
}

}  // namespace
}  // namespace lowbit
