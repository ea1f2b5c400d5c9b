// The model's W8A8 matrix product (kernels/w8a8_matmul.h) against SmoothQuant's reference
// (smoothquant.h: quantize_*_int8 + w8a8_linear): bit for bit, for every int8 GEMM variant
// this CPU runs, dynamic and static activations, odd sizes and SIMD tails.
#include "kernels/w8a8_matmul.h"

#include <cmath>
#include <random>
#include <vector>

#include <gtest/gtest.h>

#include "core/error.h"
#include "kernels/int8_gemm.h"
#include "quant/methods/smoothquant.h"

namespace lowbit {
namespace {

std::vector<float> random_matrix(int64_t rows, int64_t cols, float sigma, uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> nd(0.0f, sigma);
  std::vector<float> v(static_cast<size_t>(rows * cols));
  for (auto& x : v) x = nd(rng);
  // An outlier column and, when there are rows enough, an all-zero row (scale FLT_MIN).
  for (int64_t r = 0; r < rows; ++r) v[static_cast<size_t>(r * cols)] *= 30.0f;
  if (rows > 2)
    for (int64_t c = 0; c < cols; ++c) v[static_cast<size_t>(cols + c)] = 0.0f;
  return v;
}

QMatrix as_qmatrix(const Int8Weights& w) {
  QMatrix q{GgmlType::I8, reinterpret_cast<const uint8_t*>(w.q.data()), w.cols, w.rows, static_cast<uint64_t>(w.cols)};
  q.row_scales = w.scales.data();
  return q;
}

struct Shape {
  int64_t T, in, out;
};

TEST(W8A8Matmul, EqualsW8A8LinearBitForBit) {
  const Shape shapes[] = {{1, 1, 1}, {1, 31, 5}, {3, 33, 7}, {2, 64, 64}, {5, 127, 65}, {67, 257, 129}, {1, 768, 256}, {130, 96, 3}};
  const Isa saved = active_isa();
  int nv = 0;
  const Int8GemmKernels* ks = int8_gemm_variants(&nv);
  std::vector<uint8_t> scratch;
  for (int v = 0; v < nv; ++v) {
    force_isa(ks[v].isa);
    for (const Shape& s : shapes) {
      SCOPED_TRACE(::testing::Message() << ks[v].name << " T=" << s.T << " in=" << s.in << " out=" << s.out);
      const std::vector<float> W = random_matrix(s.out, s.in, 0.05f, 1), X = random_matrix(s.T, s.in, 1.0f, 2);
      const Int8Weights w = quantize_weights_int8_per_channel(W.data(), s.out, s.in);
      QMatrix q = as_qmatrix(w);
      for (bool is_static : {false, true}) {
        // A static range narrower than the data, so some values clamp.
        const ActivationQuant act = is_static ? ActivationQuant::static_per_tensor(-2.5f, 3.0f) : ActivationQuant::dynamic_per_token();
        q.act_static = is_static;
        q.act_lo = act.range_min;
        q.act_hi = act.range_max;
        std::vector<float> want(static_cast<size_t>(s.T * s.out)), got(want.size(), NAN), via(want.size(), NAN);
        w8a8_linear(X.data(), s.T, w, act, want.data());
        w8a8_matmul(q, X.data(), s.T, got.data(), scratch);
        qmatmul(q, X.data(), s.T, via.data(), scratch);   // the model's entry point dispatches I8 here
        for (size_t i = 0; i < want.size(); ++i) {
          ASSERT_EQ(got[i], want[i]) << (is_static ? "static" : "dynamic") << " element " << i;
          ASSERT_EQ(via[i], want[i]) << "qmatmul, element " << i;
        }
      }
    }
  }
  force_isa(saved);
}

TEST(W8A8Matmul, ActivationCodesMatchTheReference) {
  const int64_t T = 9, in = 45;
  std::vector<float> X = random_matrix(T, in, 1.0f, 5);
  X[7] = 0.0f;   // exact zeros of both signs
  X[in + 3] = -0.0f;
  std::vector<int8_t> q(static_cast<size_t>(T * in));
  std::vector<float> scales(static_cast<size_t>(T));
  w8a8_quantize_rows_dynamic(X.data(), T, in, q.data(), scales.data());
  const Int8Activations ref = quantize_activations_int8_per_token(X.data(), T, in);
  EXPECT_EQ(q, ref.q);
  EXPECT_EQ(scales, ref.scales);
  float s = 0;
  w8a8_quantize_rows_static(X.data(), T, in, -1.0f, 0.5f, q.data(), &s);
  const Int8Activations sref = quantize_activations_int8_per_tensor(X.data(), T, in, -1.0f, 0.5f);
  EXPECT_EQ(q, sref.q);
  EXPECT_EQ(s, sref.scales[0]);
  for (int8_t c : q) EXPECT_GE(c, -127);   // −128 is never produced
}

TEST(W8A8Matmul, MissingRowScalesIsAnError) {
  const std::vector<int8_t> codes(8, 1);
  QMatrix q{GgmlType::I8, reinterpret_cast<const uint8_t*>(codes.data()), 4, 2, 4};
  std::vector<float> X(4, 1.0f), Y(2);
  std::vector<uint8_t> scratch;
  EXPECT_THROW(w8a8_matmul(q, X.data(), 1, Y.data(), scratch), Error);
  q.type = GgmlType::Q8_0;
  EXPECT_THROW(w8a8_matmul(q, X.data(), 1, Y.data(), scratch), Error);
}

}  // namespace
}  // namespace lowbit
