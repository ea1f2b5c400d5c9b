#include "kernels/matmul.h"

#include <cmath>
#include <random>
#include <vector>

#include <gtest/gtest.h>

namespace lowbit {
namespace {

TEST(MatmulF32, MatchesReferenceForBatchesAndOddSizes) {
  std::mt19937 rng(7);
  std::normal_distribution<float> nd;
  for (auto [in, out, T] : {std::tuple{1, 1, 1}, {17, 5, 1}, {64, 172, 3}, {172, 64, 1}, {256, 33, 9}}) {
    std::vector<float> W(in * out), X(in * T), Y(out * T), R(out * T);
    for (auto& v : W) v = nd(rng);
    for (auto& v : X) v = nd(rng);
    matmul_f32(W.data(), in, out, X.data(), T, Y.data());
    matmul_f32__ref(W.data(), in, out, X.data(), T, R.data());
    for (size_t i = 0; i < Y.size(); ++i) EXPECT_NEAR(Y[i], R[i], 1e-4 * std::sqrt(in) + 1e-5);
  }
}

}  // namespace
}  // namespace lowbit
