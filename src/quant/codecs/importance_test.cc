// Importance weights (llama.cpp's imatrix): with them, the quantizers minimise an error
// weighted by the importance, so on average that weighted error must not exceed what the
// unweighted reference rounding gives (ggml's quantize_row_<type>_impl behaviour).
#include <cmath>
#include <cstdio>
#include <random>
#include <vector>

#include <gtest/gtest.h>

#include "quant/codecs/codec.h"
#include "quant/codecs/codec_testing.h"

namespace lowbit {
namespace {

using testing::RowKind;

// Column weights of the kinds an imatrix has: log-normal spread (mean activation squares vary
// over orders of magnitude), plus a few columns far above the rest.
std::vector<float> skewed_importance(int64_t n, std::mt19937& rng) {
  std::normal_distribution<float> normal(0.f, 1.f);
  std::vector<float> w(n);
  for (auto& v : w) v = std::exp(1.5f * normal(rng));
  std::uniform_int_distribution<int64_t> pos(0, n - 1);
  for (int k = 0; k < n / 64; ++k) w[pos(rng)] *= 50.f;
  return w;
}

double weighted_sq_error(const std::vector<float>& x, const std::vector<float>& y, const std::vector<float>& w) {
  double s = 0;
  for (size_t i = 0; i < x.size(); ++i) s += w[i] * (static_cast<double>(x[i]) - y[i]) * (static_cast<double>(x[i]) - y[i]);
  return s;
}

class Importance : public ::testing::TestWithParam<GgmlType> {};

TEST_P(Importance, WeightedErrorNoWorseThanReference) {
  const GgmlType t = GetParam();
  std::mt19937 rng(2024);
  constexpr int64_t kN = 1024;
  constexpr int kRows = 96;
  double err_weighted = 0, err_ref = 0;
  int rows_better = 0;
  std::vector<float> w;
  for (int r = 0; r < kRows; ++r) {
    // One imatrix per "tensor" of 8 rows, like a real matrix whose rows share columns.
    if (r % 8 == 0) w = skewed_importance(kN, rng);
    const std::vector<float> x = testing::make_row(r % 2 ? RowKind::HeavyTailed : RowKind::Normal, kN, rng);
    const std::vector<float> with = testing::round_trip(t, x, w.data());
    const std::vector<float> without = testing::round_trip(t, x, nullptr);
    for (float v : with) ASSERT_TRUE(std::isfinite(v));
    const double a = weighted_sq_error(x, with, w), b = weighted_sq_error(x, without, w);
    err_weighted += a;
    err_ref += b;
    rows_better += a <= b;
  }
  std::printf("[ %s ] weighted squared error with importance / reference: %.3f (better on %d of %d rows)\n",
              testing::type_name(t).c_str(), err_weighted / err_ref, rows_better, kRows);
  EXPECT_LE(err_weighted, err_ref);
}

INSTANTIATE_TEST_SUITE_P(Types, Importance,
                         ::testing::Values(GgmlType::Q4_0, GgmlType::Q4_1, GgmlType::Q5_0, GgmlType::Q5_1,
                                           GgmlType::Q2_K, GgmlType::Q3_K, GgmlType::Q4_K, GgmlType::Q5_K,
                                           GgmlType::Q6_K, GgmlType::IQ4_NL, GgmlType::IQ4_XS),
                         [](const auto& info) { return testing::type_name(info.param); });

// Uniform importance is no importance at all: the weighted paths then still fit the data
// (their plain error stays within a small factor of the reference's).
TEST(Importance, UniformWeightsStillFitTheData) {
  std::mt19937 rng(8);
  const std::vector<float> ones(1024, 1.0f);
  for (GgmlType t : {GgmlType::Q4_0, GgmlType::Q4_1, GgmlType::Q5_0, GgmlType::Q5_1, GgmlType::Q2_K,
                     GgmlType::Q3_K, GgmlType::Q4_K, GgmlType::Q5_K, GgmlType::Q6_K, GgmlType::IQ4_NL,
                     GgmlType::IQ4_XS}) {
    double a = 0, b = 0;
    for (int r = 0; r < 16; ++r) {
      const std::vector<float> x = testing::make_row(RowKind::HeavyTailed, 1024, rng);
      a += weighted_sq_error(x, testing::round_trip(t, x, ones.data()), ones);
      b += weighted_sq_error(x, testing::round_trip(t, x, nullptr), ones);
    }
    EXPECT_LE(a, 1.25 * b) << ggml_type_name(t);
  }
}

}  // namespace
}  // namespace lowbit
