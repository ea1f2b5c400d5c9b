#include "quant/linear/quantized_tensor.h"

#include <omp.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "core/error.h"

namespace lowbit {
namespace {

struct Mode {
  const char* name;
  bool symmetric, restricted;
};
constexpr Mode kModes[] = {{"asymmetric", false, false}, {"symmetric", true, false}, {"symmetric-restricted", true, true}};

struct Shape {
  int64_t rows, cols;
  Granularity g;
  int64_t group;
};
// Row length 4096 with groups of 32/64/128, and the odd row length 172 (= 4·43) with groups 43 and 4.
constexpr Shape kShapes[] = {
    {6, 4096, Granularity::PerTensor, 0}, {6, 4096, Granularity::PerChannel, 0}, {6, 4096, Granularity::PerGroup, 32},
    {6, 4096, Granularity::PerGroup, 64}, {6, 4096, Granularity::PerGroup, 128}, {7, 172, Granularity::PerTensor, 0},
    {7, 172, Granularity::PerChannel, 0}, {7, 172, Granularity::PerGroup, 43},   {7, 172, Granularity::PerGroup, 4},
};

QuantScheme make_scheme(int bits, const Mode& m, const Shape& sh) {
  QuantScheme s;
  s.bits = bits;
  s.symmetric = m.symmetric;
  s.restricted_range = m.restricted;
  s.granularity = sh.g;
  s.group_size = sh.group;
  return s;
}

std::string describe(int bits, const Mode& m, const Shape& sh) {
  return std::string(m.name) + " bits " + std::to_string(bits) + " " + granularity_name(sh.g) + " " +
         std::to_string(sh.rows) + "x" + std::to_string(sh.cols) + (sh.group ? " g" + std::to_string(sh.group) : "");
}

// Rows with different offsets and spreads, some exact zeros, so groups differ.
std::vector<float> test_matrix(int64_t rows, int64_t cols, uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> n(0.0f, 1.0f);
  std::uniform_real_distribution<float> u(-1.0f, 1.0f);
  std::vector<float> x(static_cast<size_t>(rows * cols));
  for (int64_t r = 0; r < rows; ++r) {
    const float offset = 0.5f * u(rng), spread = std::exp2(3.0f * u(rng));
    for (int64_t c = 0; c < cols; ++c) {
      float v = offset + spread * n(rng);
      if ((c * 7 + r) % 29 == 0) v = 0.0f;
      x[static_cast<size_t>(r * cols + c)] = v;
    }
  }
  return x;
}

float half_step_bound(float s, float x) {
  return 0.5f * s * (1.0f + 1e-6f) + 4 * std::numeric_limits<float>::epsilon() * std::fabs(x);
}

TEST(QuantizedTensor, RoundTripWithinHalfStepAndZerosExact) {
  uint32_t seed = 1;
  for (const Shape& sh : kShapes) {
    const std::vector<float> x = test_matrix(sh.rows, sh.cols, seed++);
    for (int b = kMinQuantBits; b <= kMaxQuantBits; ++b)
      for (const Mode& m : kModes) {
        const QuantScheme s = make_scheme(b, m, sh);
        const QuantizedTensor t = quantize_tensor(x.data(), sh.rows, sh.cols, s);
        SCOPED_TRACE(describe(b, m, sh));
        ASSERT_NO_THROW(t.validate());
        ASSERT_EQ(t.scales.size(), static_cast<size_t>(s.group_count(sh.rows, sh.cols)));
        const std::vector<float> xh = dequantize_tensor(t);
        double err = 0;
        for (int64_t r = 0; r < sh.rows; ++r)
          for (int64_t c = 0; c < sh.cols; ++c) {
            const size_t i = static_cast<size_t>(r * sh.cols + c);
            const float scale = t.scales[static_cast<size_t>(t.group_index(r, c))];
            ASSERT_EQ(xh[i], t.value(r, c));
            ASSERT_LE(std::fabs(x[i] - xh[i]), half_step_bound(scale, x[i])) << "row " << r << " col " << c;
            if (x[i] == 0.0f) {
              ASSERT_EQ(xh[i], 0.0f) << "row " << r << " col " << c;
            }
            const double d = static_cast<double>(x[i]) - xh[i];
            err += d * d;
          }
        EXPECT_NEAR(t.error, err, 1e-9 * err + 1e-30);
      }
  }
}

// ClipSearch clips some values, so only zeros and the in-range bound are promised.
TEST(QuantizedTensor, ClipSearchKeepsZerosExactAndInRangeValuesWithinHalfStep) {
  for (const Shape& sh : kShapes) {
    const std::vector<float> x = test_matrix(sh.rows, sh.cols, 99);
    for (int b : {2, 3, 4, 8})
      for (const Mode& m : kModes) {
        const QuantScheme s = make_scheme(b, m, sh);
        const QuantizedTensor t = quantize_tensor(x.data(), sh.rows, sh.cols, s, ScaleSearch::clip({20, 0.3f}));
        SCOPED_TRACE(describe(b, m, sh));
        const std::vector<float> xh = dequantize_tensor(t);
        for (int64_t r = 0; r < sh.rows; ++r)
          for (int64_t c = 0; c < sh.cols; ++c) {
            const size_t i = static_cast<size_t>(r * sh.cols + c);
            if (x[i] == 0.0f) {
              ASSERT_EQ(xh[i], 0.0f);
            }
            const AffineParams p = t.params(t.group_index(r, c));
            const float lo = dequantize_value(s.qmin(), p), hi = dequantize_value(s.qmax(), p);
            if (x[i] >= lo && x[i] <= hi) {
              ASSERT_LE(std::fabs(x[i] - xh[i]), half_step_bound(p.scale, x[i]));
            }
          }
      }
  }
}

// A hand-built tensor holding every code of every scheme decodes to s·(q − z) and re-encodes to itself.
TEST(QuantizedTensor, EveryCodeDecodesAndReEncodes) {
  for (int b = kMinQuantBits; b <= kMaxQuantBits; ++b)
    for (const Mode& m : kModes)
      for (Granularity g : {Granularity::PerTensor, Granularity::PerChannel, Granularity::PerGroup}) {
        QuantizedTensor t;
        t.scheme = make_scheme(b, m, Shape{0, 0, g, g == Granularity::PerGroup ? 4 : 0});
        const int32_t qmin = t.scheme.qmin(), qmax = t.scheme.qmax(), n = qmax - qmin + 1;
        t.rows = 3;
        t.cols = 4 * ((n + 3) / 4);  // every code in each row (2 bits restricted: 3 codes)
        for (int64_t r = 0; r < t.rows; ++r)
          for (int64_t c = 0; c < t.cols; ++c) t.codes.push_back(static_cast<uint8_t>(c % n));
        std::mt19937 rng(b * 10 + static_cast<int>(g));
        std::uniform_real_distribution<float> u(0.01f, 3.0f);
        std::uniform_int_distribution<int32_t> zd(qmin, qmax);
        for (int64_t k = 0; k < t.scheme.group_count(t.rows, t.cols); ++k) {
          t.scales.push_back(u(rng));
          t.zeros.push_back(m.symmetric ? 0 : zd(rng));
        }
        SCOPED_TRACE(std::string(m.name) + " bits " + std::to_string(b) + " " + granularity_name(g));
        ASSERT_NO_THROW(t.validate());
        const std::vector<float> xh = dequantize_tensor(t);
        for (int64_t r = 0; r < t.rows; ++r) {
          for (int64_t c = 0; c < t.cols; ++c) {
            const size_t i = static_cast<size_t>(r * t.cols + c);
            const AffineParams p = t.params(t.group_index(r, c));
            const int32_t q = t.codes[i] + qmin;
            ASSERT_EQ(xh[i], static_cast<float>(static_cast<double>(p.scale) * (q - p.zero))) << r << "," << c;
            ASSERT_EQ(quantize_value(xh[i], p, qmin, qmax), q);
          }
          if (g == Granularity::PerGroup) {
            for (int64_t c0 = 0; c0 < t.cols; c0 += 4) {
              const size_t i = static_cast<size_t>(r * t.cols + c0);
              std::vector<uint8_t> again(4);
              quantize_span(std::span<const float>(xh.data() + i, 4), t.params(t.group_index(r, c0)), t.scheme, again);
              ASSERT_TRUE(std::equal(again.begin(), again.end(), t.codes.begin() + static_cast<std::ptrdiff_t>(i)));
            }
          } else {
            std::vector<uint8_t> again(static_cast<size_t>(t.cols));
            const size_t i = static_cast<size_t>(r * t.cols);
            quantize_span(std::span<const float>(xh.data() + i, again.size()), t.params(t.group_index(r, 0)), t.scheme, again);
            ASSERT_TRUE(std::equal(again.begin(), again.end(), t.codes.begin() + static_cast<std::ptrdiff_t>(i)));
          }
        }
      }
}

TEST(QuantizedTensor, NonFiniteInputNamesRowAndColumn) {
  std::vector<float> x = test_matrix(5, 64, 3);
  for (float bad : {std::numeric_limits<float>::quiet_NaN(), std::numeric_limits<float>::infinity(),
                    -std::numeric_limits<float>::infinity()}) {
    x[2 * 64 + 17] = bad;
    for (const QuantScheme& s : {QuantScheme::per_tensor(4, true), QuantScheme::per_channel(3, false), QuantScheme::per_group(8, 32, false)}) {
      for (const ScaleSearch& search : {ScaleSearch::min_max(), ScaleSearch::clip()}) {
        try {
          quantize_tensor(x.data(), 5, 64, s, search);
          FAIL() << "accepted " << bad;
        } catch (const Error& e) {
          const std::string what = e.what();
          EXPECT_NE(what.find("row 2, column 17"), std::string::npos) << what;
        }
      }
    }
  }
}

TEST(QuantizedTensor, RejectsBadArguments) {
  const std::vector<float> x = test_matrix(4, 172, 4);
  EXPECT_THROW(quantize_tensor(x.data(), 4, 172, QuantScheme::per_group(4, 32, true)), Error);  // 32 ∤ 172
  EXPECT_THROW(quantize_tensor(x.data(), 4, 172, QuantScheme::per_channel(9, true)), Error);
  EXPECT_THROW(quantize_tensor(x.data(), -1, 172, QuantScheme::per_channel(4, true)), Error);
  EXPECT_THROW(quantize_tensor(nullptr, 4, 172, QuantScheme::per_channel(4, true)), Error);
  const std::vector<float> cols(171, 1.0f);
  EXPECT_THROW(quantize_tensor(x.data(), 4, 172, QuantScheme::per_channel(4, true), ScaleSearch::importance(cols)), Error);
  EXPECT_THROW(quantize_tensor(x.data(), 4, 172, QuantScheme::per_channel(4, true), ScaleSearch::clip_weighted(cols)), Error);
  EXPECT_THROW(quantize_tensor(x.data(), 4, 172, QuantScheme::per_channel(4, true), ScaleSearch::clip({0, 0.5f})), Error);

  QuantizedTensor t = quantize_tensor(x.data(), 4, 172, QuantScheme::per_group(4, 43, false));
  EXPECT_NO_THROW(t.validate());
  QuantizedTensor bad = t;
  bad.codes[5] = 16;
  EXPECT_THROW(bad.validate(), Error);
  bad = t;
  bad.scales.pop_back();
  EXPECT_THROW(dequantize_tensor(bad), Error);
  bad = t;
  bad.zeros[0] = 16;
  EXPECT_THROW(bad.validate(), Error);
  bad = t;
  bad.scales[1] = 0.0f;
  EXPECT_THROW(bad.validate(), Error);

  // Empty tensors are fine.
  const QuantizedTensor e = quantize_tensor(nullptr, 0, 64, QuantScheme::per_group(4, 32, true));
  EXPECT_TRUE(e.codes.empty());
  EXPECT_TRUE(dequantize_tensor(e).empty());
}

TEST(QuantizedTensor, SameResultForAnyThreadCount) {
  const std::vector<float> x = test_matrix(33, 256, 5);
  std::vector<float> w(256);
  for (size_t j = 0; j < w.size(); ++j) w[j] = 1.0f + static_cast<float>(j % 13);
  for (const QuantScheme& s : {QuantScheme::per_tensor(4, true), QuantScheme::per_group(3, 32, false)}) {
    const int saved = omp_get_max_threads();
    omp_set_num_threads(1);
    const QuantizedTensor a = quantize_tensor(x.data(), 33, 256, s, ScaleSearch::importance(w, {30, 0.4f}));
    omp_set_num_threads(4);
    const QuantizedTensor b = quantize_tensor(x.data(), 33, 256, s, ScaleSearch::importance(w, {30, 0.4f}));
    omp_set_num_threads(saved);
    EXPECT_EQ(a.codes, b.codes);
    EXPECT_EQ(a.scales, b.scales);
    EXPECT_EQ(a.zeros, b.zeros);
    EXPECT_EQ(a.error, b.error);
  }
}

}  // namespace
}  // namespace lowbit
