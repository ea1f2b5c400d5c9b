#include "quant/methods/smoothquant.h"

#include <cmath>
#include <cstdio>
#include <random>
#include <vector>

#include <gtest/gtest.h>

#include "core/error.h"
#include "kernels/matmul.h"

namespace lowbit {
namespace {

size_t sz(int64_t v) { return static_cast<size_t>(v); }

// Activations with a few persistent outlier channels ~50× the rest (SmoothQuant Fig. 4).
std::vector<float> outlier_activations(int64_t n, int64_t in, uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> nd;
  std::vector<float> X(sz(n * in));
  for (int64_t t = 0; t < n; ++t)
    for (int64_t j = 0; j < in; ++j) X[sz(t * in + j)] = nd(rng) * (j % 97 == 5 ? 50.0f : 1.0f);
  return X;
}

std::vector<float> gaussian(int64_t count, float sigma, uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> nd(0.0f, sigma);
  std::vector<float> v(sz(count));
  for (auto& x : v) x = nd(rng);
  return v;
}

// ‖y − y_ref‖² / ‖y_ref‖².
double rel_error(const std::vector<float>& y, const std::vector<float>& ref) {
  double num = 0, den = 0;
  for (size_t i = 0; i < y.size(); ++i) {
    num += (static_cast<double>(y[i]) - ref[i]) * (static_cast<double>(y[i]) - ref[i]);
    den += static_cast<double>(ref[i]) * ref[i];
  }
  return num / den;
}

// W8A8 output of the smoothed layer: X diag(s)⁻¹ against quantized W diag(s).
std::vector<float> w8a8_smoothed(const std::vector<float>& X, int64_t n, int64_t in, const std::vector<float>& W,
                                 int64_t out, const std::vector<float>& s, const ActivationQuant& act) {
  std::vector<float> xs = X, ws = W;
  for (int64_t t = 0; t < n; ++t)
    for (int64_t j = 0; j < in; ++j) xs[sz(t * in + j)] /= s[sz(j)];  // what the folded norm produces
  scale_columns(ws.data(), out, in, s);
  const Int8Weights wq = quantize_weights_int8_per_channel(ws.data(), out, in);
  ActivationQuant a = act;
  if (!a.per_token) {  // static range observed on the smoothed activations (min-max observer)
    a.range_min = *std::min_element(xs.begin(), xs.end());
    a.range_max = *std::max_element(xs.begin(), xs.end());
  }
  std::vector<float> y(sz(n * out));
  w8a8_linear(xs.data(), n, wq, a, y.data());
  return y;
}

TEST(SmoothQuant, SmoothingRescuesW8A8FromOutlierChannels) {
  const int64_t n = 256, in = 512, out = 256;
  const std::vector<float> X = outlier_activations(n, in, 1), W = gaussian(out * in, 0.05f, 2);
  std::vector<float> ref(sz(n * out));
  matmul_f32__ref(W.data(), in, out, X.data(), n, ref.data());
  const MatrixView wv{W.data(), out, in};
  const std::vector<float> amax = channel_absmax(X.data(), n, in);
  const std::vector<float> none(sz(in), 1.0f);
  for (const ActivationQuant act : {ActivationQuant::dynamic_per_token(), ActivationQuant::static_per_tensor(0, 0)}) {
    const char* mode = act.per_token ? "per-token" : "per-tensor";
    const double e_none = rel_error(w8a8_smoothed(X, n, in, W, out, none, act), ref);
    const double e0 = rel_error(w8a8_smoothed(X, n, in, W, out, smooth_scales(amax, {&wv, 1}, 0.0f), act), ref);
    const double e5 = rel_error(w8a8_smoothed(X, n, in, W, out, smooth_scales(amax, {&wv, 1}, 0.5f), act), ref);
    const double e8 = rel_error(w8a8_smoothed(X, n, in, W, out, smooth_scales(amax, {&wv, 1}, 0.8f), act), ref);
    std::printf("W8A8 %-10s rel. output error: no smoothing (s=1) %.3e | alpha=0 %.3e | alpha=0.5 %.3e | alpha=0.8 %.3e\n",
                mode, e_none, e0, e5, e8);
    EXPECT_LT(e5, 0.1 * e_none) << mode;
  }
}

TEST(SmoothQuant, ScalesBalanceTheMaxima) {
  const int64_t n = 64, in = 128;
  const std::vector<float> X = outlier_activations(n, in, 3);
  const std::vector<float> Wa = gaussian(32 * in, 0.05f, 4), Wb = gaussian(48 * in, 0.2f, 5);
  const MatrixView group[] = {{Wa.data(), 32, in}, {Wb.data(), 48, in}};
  const std::vector<float> amax = channel_absmax(X.data(), n, in);
  const std::vector<float> s = smooth_scales(amax, group, 0.5f);
  for (int64_t j = 0; j < in; ++j) {
    float wmax = 0;
    for (const MatrixView& w : group)
      for (int64_t o = 0; o < w.rows; ++o) wmax = std::max(wmax, std::fabs(w.data[o * in + j]));
    // α = 0.5: max|X_j| / s_j = max|W_j| · s_j = sqrt(max|X_j| · max|W_j|).
    EXPECT_NEAR(amax[sz(j)] / s[sz(j)], wmax * s[sz(j)], 1e-5f * wmax * s[sz(j)]) << j;
  }
  // α = 1 moves everything into the weights: the smoothed activation maxima are all max|W_j|^0 = 1.
  const std::vector<float> s1 = smooth_scales(amax, group, 1.0f);
  for (int64_t j = 0; j < in; ++j) EXPECT_NEAR(amax[sz(j)] / s1[sz(j)], 1.0f, 1e-6f);
  // A dead channel keeps s = 1.
  std::vector<float> dead = amax;
  dead[7] = 0;
  EXPECT_EQ(smooth_scales(dead, group, 0.5f)[7], 1.0f);
  EXPECT_THROW(smooth_scales(amax, group, 1.5f), Error);
}

TEST(SmoothQuant, Int8QuantizersRoundToNearestWithinRange) {
  const int64_t rows = 7, cols = 100;
  std::vector<float> W = gaussian(rows * cols, 1.0f, 6);
  W[sz(3 * cols)] = 0;  // keep one row all zeros
  for (int64_t c = 0; c < cols; ++c) W[sz(3 * cols + c)] = 0;
  const Int8Weights wq = quantize_weights_int8_per_channel(W.data(), rows, cols);
  for (int64_t o = 0; o < rows; ++o) {
    float m = 0;
    for (int64_t c = 0; c < cols; ++c) m = std::max(m, std::fabs(W[sz(o * cols + c)]));
    if (m > 0) {
      EXPECT_FLOAT_EQ(wq.scales[sz(o)], m / 127.0f);
    }
    for (int64_t c = 0; c < cols; ++c) {
      const int8_t q = wq.q[sz(o * cols + c)];
      EXPECT_GE(q, -127);
      EXPECT_LE(std::fabs(q * wq.scales[sz(o)] - W[sz(o * cols + c)]), 0.5f * wq.scales[sz(o)] * (1 + 1e-6f));
    }
  }
  for (int64_t c = 0; c < cols; ++c) EXPECT_EQ(wq.q[sz(3 * cols + c)], 0);
  // Static per-tensor: a range narrower than the data clamps to ±127.
  const Int8Activations xs = quantize_activations_int8_per_tensor(W.data(), rows, cols, -1.0f, 0.5f);
  ASSERT_EQ(xs.scales.size(), 1u);
  EXPECT_FLOAT_EQ(xs.scales[0], 1.0f / 127.0f);
  for (size_t i = 0; i < W.size(); ++i) {
    if (W[i] >= 1.0f) {
      EXPECT_EQ(xs.q[i], 127);
    }
    if (W[i] <= -1.0f) {
      EXPECT_EQ(xs.q[i], -127);
    }
  }
  EXPECT_THROW(quantize_activations_int8_per_tensor(W.data(), rows, cols, 1.0f, -1.0f), Error);
  W[5] = INFINITY;
  EXPECT_THROW(quantize_weights_int8_per_channel(W.data(), rows, cols), Error);
  EXPECT_THROW(quantize_activations_int8_per_token(W.data(), rows, cols), Error);
}

TEST(SmoothQuant, W8A8LinearIsExactIntegerArithmeticWithinTheErrorBound) {
  const int64_t T = 33, in = 300, out = 70;
  const std::vector<float> X = outlier_activations(T, in, 7), W = gaussian(out * in, 0.1f, 8);
  const Int8Weights wq = quantize_weights_int8_per_channel(W.data(), out, in);
  const Int8Activations xq = quantize_activations_int8_per_token(X.data(), T, in);
  std::vector<float> y(sz(T * out));
  w8a8_linear(xq, wq, y.data());
  std::vector<float> y2(y.size());
  w8a8_linear(X.data(), T, wq, ActivationQuant::dynamic_per_token(), y2.data());
  EXPECT_EQ(y, y2);
  for (int64_t t = 0; t < T; ++t)
    for (int64_t o = 0; o < out; ++o) {
      int32_t acc = 0;
      double ref = 0, sum_wq = 0, sum_x = 0;
      for (int64_t i = 0; i < in; ++i) {
        acc += int32_t{xq.q[sz(t * in + i)]} * wq.q[sz(o * in + i)];
        ref += static_cast<double>(X[sz(t * in + i)]) * W[sz(o * in + i)];
        sum_wq += std::fabs(wq.q[sz(o * in + i)] * static_cast<double>(wq.scales[sz(o)]));
        sum_x += std::fabs(static_cast<double>(X[sz(t * in + i)]));
      }
      const float got = y[sz(t * out + o)];
      // The integer path: exactly the int32 sum, scaled once.
      EXPECT_EQ(got, (static_cast<float>(acc) * xq.scales[sz(t)]) * wq.scales[sz(o)]);
      // x̂ŵ − xw = (x̂ − x)ŵ + x(ŵ − w), |x̂ − x| ≤ s_x/2, |ŵ − w| ≤ s_w/2.
      const double bound = 0.5 * xq.scales[sz(t)] * sum_wq + 0.5 * wq.scales[sz(o)] * sum_x;
      EXPECT_LE(std::fabs(got - ref), bound * (1 + 1e-5) + 1e-6 * std::fabs(ref)) << t << "," << o;
    }
  Int8Weights bad = wq;
  bad.cols = in + 1;
  EXPECT_THROW(w8a8_linear(xq, bad, y.data()), Error);
}

TEST(SmoothQuant, FoldingKeepsTheFp32Output) {
  const int64_t n = 32, in = 128, out = 40;
  const std::vector<float> X = outlier_activations(n, in, 9), W = gaussian(out * in, 0.05f, 10);
  const MatrixView wv{W.data(), out, in};
  const std::vector<float> s = smooth_scales(channel_absmax(X.data(), n, in), {&wv, 1}, 0.5f);
  std::vector<float> gamma(sz(in), 1.0f), ws = W;
  fold_into_norm(gamma, s);
  scale_columns(ws.data(), out, in, s);
  std::vector<float> xs = X;
  for (int64_t t = 0; t < n; ++t)
    for (int64_t j = 0; j < in; ++j) xs[sz(t * in + j)] *= gamma[sz(j)];
  std::vector<float> y(sz(n * out)), ys(y.size());
  matmul_f32__ref(W.data(), in, out, X.data(), n, y.data());
  matmul_f32__ref(ws.data(), in, out, xs.data(), n, ys.data());
  EXPECT_LT(rel_error(ys, y), 1e-12);
}

}  // namespace
}  // namespace lowbit
