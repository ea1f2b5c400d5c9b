#include "quant/methods/hessian.h"

#include <cmath>
#include <limits>
#include <random>
#include <vector>

#include <gtest/gtest.h>

#include "core/error.h"

namespace lowbit {
namespace {

using Precision = HessianAccumulator::Precision;

// H = 2/n Σ x xᵀ in double loops.
std::vector<double> direct_hessian(const std::vector<float>& X, int64_t n, int64_t in) {
  std::vector<double> H(in * in, 0.0);
  for (int64_t t = 0; t < n; ++t)
    for (int64_t i = 0; i < in; ++i)
      for (int64_t j = 0; j < in; ++j) H[i * in + j] += static_cast<double>(X[t * in + i]) * X[t * in + j];
  for (double& v : H) v *= 2.0 / static_cast<double>(n);
  return H;
}

class Hessian : public ::testing::TestWithParam<Precision> {};

TEST_P(Hessian, MatchesTheDirectSumOverUnevenBatches) {
  constexpr int64_t kIn = 72, kN = 700;
  std::mt19937 rng(3);
  std::normal_distribution<float> normal(0.f, 1.f);
  std::vector<float> X(kN * kIn);
  for (int64_t t = 0; t < kN; ++t)
    for (int64_t j = 0; j < kIn; ++j) X[t * kIn + j] = normal(rng) * (1.0f + static_cast<float>(j % 7)) + 0.3f;
  HessianAccumulator acc(kIn, GetParam());
  int64_t t = 0;
  for (int64_t batch : {1, 0, 37, 300, 362}) {  // 700 rows, one batch over the 256-row chunk
    acc.add(X.data() + t * kIn, batch);
    t += batch;
  }
  ASSERT_EQ(t, kN);
  EXPECT_EQ(acc.samples(), kN);
  const std::vector<double> ref = direct_hessian(X, kN, kIn);
  const std::vector<float> H = acc.finalize();
  const std::vector<float> d = acc.diag(), imp = acc.importance();
  for (int64_t i = 0; i < kIn; ++i) {
    for (int64_t j = 0; j < kIn; ++j) {
      ASSERT_NEAR(H[i * kIn + j], ref[i * kIn + j], 1e-5 * (1.0 + std::fabs(ref[i * kIn + j]))) << i << "," << j;
      ASSERT_EQ(H[i * kIn + j], H[j * kIn + i]);  // both triangles, exactly symmetric
    }
    EXPECT_EQ(d[i], H[i * kIn + i]);
    EXPECT_EQ(imp[i] * 2.0f, d[i]);  // llama.cpp's imatrix = mean x² = H_ii / 2
  }
}

INSTANTIATE_TEST_SUITE_P(Both, Hessian, ::testing::Values(Precision::Float, Precision::Double),
                         [](const auto& info) { return info.param == Precision::Float ? "Float" : "Double"; });

TEST(HessianApi, RejectsBadInput) {
  EXPECT_THROW(HessianAccumulator(0), Error);
  EXPECT_THROW(HessianAccumulator(-3), Error);
  HessianAccumulator acc(4);
  EXPECT_THROW(acc.finalize(), Error);  // no rows yet
  EXPECT_THROW(acc.importance(), Error);
  std::vector<float> X(8, 1.0f);
  X[6] = std::numeric_limits<float>::quiet_NaN();
  EXPECT_THROW(acc.add(X.data(), 2), Error);
  EXPECT_EQ(acc.samples(), 0);  // nothing added
  X[6] = std::numeric_limits<float>::infinity();
  EXPECT_THROW(acc.add(X.data(), 2), Error);
  EXPECT_THROW(acc.add(X.data(), -1), Error);
  X[6] = 2.0f;
  acc.add(X.data(), 2);
  EXPECT_EQ(acc.finalize()[2 * 4 + 2], 2.0f / 2.0f * (1.0f + 4.0f));
}

}  // namespace
}  // namespace lowbit
