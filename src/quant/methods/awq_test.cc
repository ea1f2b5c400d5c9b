#include "quant/methods/awq.h"

#include <cmath>
#include <cstdio>
#include <random>
#include <vector>

#include <gtest/gtest.h>

#include "core/error.h"
#include "kernels/matmul.h"
#include "quant/methods/synthetic_activations_test.h"

namespace lowbit {
namespace {

using testing_util::gaussian;
using testing_util::llm_activations;

// ‖X Wᵀ − (X diag(s)⁻¹) Q(Ws)ᵀ‖² / ‖X Wᵀ‖² with Ws the weights AWQ returned (already
// scaled), in double: the relative output error of the deployed layer on X.
double relative_output_error(const std::vector<float>& X, int64_t n, int64_t in, const std::vector<float>& W, int64_t rows,
                             const std::vector<float>& Ws, const std::vector<float>& s, const AwqQuantizer& q) {
  std::vector<float> deq(Ws.size());
  q.fake_quantize(Ws.data(), rows, in, nullptr, deq.data());
  std::vector<float> Xs(X.size());
  for (int64_t t = 0; t < n; ++t)
    for (int64_t j = 0; j < in; ++j) Xs[static_cast<size_t>(t * in + j)] = X[static_cast<size_t>(t * in + j)] / s[static_cast<size_t>(j)];
  std::vector<float> y(static_cast<size_t>(n * rows)), yq(y.size());
  matmul_f32(W.data(), in, rows, X.data(), n, y.data());
  matmul_f32(deq.data(), in, rows, Xs.data(), n, yq.data());
  double num = 0, den = 0;
  for (size_t i = 0; i < y.size(); ++i) {
    num += (static_cast<double>(y[i]) - yq[i]) * (static_cast<double>(y[i]) - yq[i]);
    den += static_cast<double>(y[i]) * y[i];
  }
  return num / den;
}

struct Case {
  const char* label;
  AwqQuantizer q;
};

std::vector<Case> cases() {
  return {
      {"Q4_0", awq_quantizer(GgmlType::Q4_0)},
      {"Q4_K", awq_quantizer(GgmlType::Q4_K)},
      {"Q3_K", awq_quantizer(GgmlType::Q3_K)},
      {"IQ4_NL", awq_quantizer(GgmlType::IQ4_NL)},
      {"affine b4 g128", awq_quantizer(QuantScheme::per_group(4, 128, false))},
      {"affine b3 g128", awq_quantizer(QuantScheme::per_group(3, 128, false))},
  };
}

// One synthetic q/k/v group; each quantizer's search runs once and is shared by the tests.
class AwqSynthetic : public ::testing::Test {
 protected:
  static constexpr int64_t kIn = 512, kRows = 64, kN = 1024, kHeld = 512;
  struct Data {
    std::vector<float> X, Xheld;
    std::vector<std::vector<float>> W;
    std::vector<MatrixView> views;
    std::vector<Case> cases = lowbit::cases();
    std::vector<AwqResult> results;  // per case, default options
  };
  static Data& data() {
    static Data* d = [] {
      auto* d = new Data;
      d->X = llm_activations(kN, kIn, 1);
      d->Xheld = llm_activations(kHeld, kIn, 2);
      for (int k = 0; k < 3; ++k) d->W.push_back(gaussian(kRows * kIn, 0.05f, 10 + k));  // q, k, v
      for (auto& w : d->W) d->views.push_back({w.data(), kRows, kIn});
      for (const Case& c : d->cases) d->results.push_back(awq_search(d->X.data(), kN, kIn, d->views, c.q));
      return d;
    }();
    return *d;
  }
  void SetUp() override {
    X = data().X;
    Xheld = data().Xheld;
    W = data().W;
    for (auto& w : W) views.push_back({w.data(), kRows, kIn});
  }
  std::vector<float> X, Xheld;
  std::vector<std::vector<float>> W;
  std::vector<MatrixView> views;
};

TEST_F(AwqSynthetic, BeatsRoundToNearestForEveryQuantizer) {
  for (size_t ci = 0; ci < data().cases.size(); ++ci) {
    const Case& c = data().cases[ci];
    const AwqResult& r = data().results[ci];
    SCOPED_TRACE(c.label);
    EXPECT_EQ(r.rows_used, 512);
    EXPECT_GT(r.alpha, 0.0f);
    EXPECT_LT(r.scaled_loss, r.rtn_loss);
    EXPECT_LE(r.final_loss, r.scaled_loss);
    double rtn = 0, awq = 0, awq_noclip = 0;
    const std::vector<float> ones(kIn, 1.0f);
    for (size_t k = 0; k < W.size(); ++k) {
      std::vector<float> scaled = W[k];  // the unclipped AWQ weights W diag(s)
      scale_columns(scaled.data(), kRows, kIn, r.scales);
      rtn += relative_output_error(Xheld, kHeld, kIn, W[k], kRows, W[k], ones, c.q) / 3;
      awq += relative_output_error(Xheld, kHeld, kIn, W[k], kRows, r.weights[k], r.scales, c.q) / 3;
      awq_noclip += relative_output_error(Xheld, kHeld, kIn, W[k], kRows, scaled, r.scales, c.q) / 3;
    }
    std::printf("%-15s alpha=%.2f  calib loss RTN %.4g -> scaled %.4g -> clipped %.4g | held-out rel. error "
                "RTN %.3e  AWQ(scale) %.3e  AWQ(scale+clip) %.3e (%.0f%% of RTN)\n",
                c.label, r.alpha, r.rtn_loss, r.scaled_loss, r.final_loss, rtn, awq_noclip, awq, 100 * awq / rtn);
    EXPECT_LT(awq, rtn);
    EXPECT_LT(awq_noclip, rtn);
  }
}

TEST_F(AwqSynthetic, AlphaZeroIsRoundToNearest) {
  const AwqQuantizer q = awq_quantizer(GgmlType::Q4_0);
  const std::vector<float> a = mean_abs_per_channel(X.data(), kN, kIn);
  for (float s : awq_scales(a, 0.0f)) ASSERT_EQ(s, 1.0f);
  // Only α = 0, no clipping: the weights come back untouched, the loss is RTN's.
  const AwqResult r = awq_search(X.data(), kN, kIn, views, q, AwqOptions{.alpha_grid = 1, .max_rows = kN, .clip = false});
  EXPECT_EQ(r.alpha, 0.0f);
  for (size_t k = 0; k < W.size(); ++k) EXPECT_EQ(r.weights[k], W[k]);
  const double rtn = awq_loss(X.data(), kN, kIn, views, {}, q);
  EXPECT_EQ(r.rtn_loss, rtn);
  EXPECT_EQ(r.final_loss, rtn);
  // The full search starts from the same point, and its RTN loss agrees with an independent
  // double-precision evaluation of ‖X (W − Q(W))ᵀ‖².
  const AwqResult full = awq_search(X.data(), kN, kIn, views, q, AwqOptions{.max_rows = kN, .clip = false});
  EXPECT_EQ(full.losses[0], rtn);
  double want = 0;
  for (size_t k = 0; k < W.size(); ++k) {
    std::vector<float> deq(W[k].size()), d(W[k].size()), e(static_cast<size_t>(kN * kRows));
    q.fake_quantize(W[k].data(), kRows, kIn, nullptr, deq.data());
    for (size_t i = 0; i < d.size(); ++i) d[i] = W[k][i] - deq[i];
    matmul_f32__ref(d.data(), kIn, kRows, X.data(), kN, e.data());
    for (float v : e) want += static_cast<double>(v) * v;
  }
  EXPECT_NEAR(rtn, want, 1e-5 * want);
  EXPECT_LE(full.scaled_loss, rtn);
}

TEST_F(AwqSynthetic, ClippingNeverIncreasesTheLoss) {
  bool some_clipped = false;
  for (size_t ci = 0; ci < data().cases.size(); ++ci) {
    const Case& c = data().cases[ci];
    const AwqResult& r = data().results[ci];
    SCOPED_TRACE(c.label);
    EXPECT_LE(r.final_loss, r.scaled_loss);
    // The reported loss is the loss of the returned weights: recompute it.
    std::vector<float> xs(static_cast<size_t>(512 * kIn));
    for (int64_t i = 0; i < 512; ++i)
      std::copy_n(X.data() + (i * kN / 512) * kIn, kIn, xs.data() + i * kIn);
    double total = 0;
    for (size_t k = 0; k < W.size(); ++k) {
      std::vector<float> deq(W[k].size()), d(W[k].size()), e(static_cast<size_t>(512 * kRows));
      c.q.fake_quantize(r.weights[k].data(), kRows, kIn, nullptr, deq.data());
      for (int64_t o = 0; o < kRows; ++o)
        for (int64_t j = 0; j < kIn; ++j) {
          const size_t i = static_cast<size_t>(o * kIn + j);
          d[i] = W[k][i] - deq[i] / r.scales[static_cast<size_t>(j)];
        }
      matmul_f32(d.data(), kIn, kRows, xs.data(), 512, e.data());
      double l = 0;
      for (float v : e) l += static_cast<double>(v) * v;
      EXPECT_EQ(l, r.matrix_losses[k]);
      total += l;
      if (r.clip_kept[k]) {
        ASSERT_EQ(r.clip_ratios[k].size(), static_cast<size_t>(kRows * (kIn / c.q.clip_group)));
        for (float ratio : r.clip_ratios[k]) {
          EXPECT_GE(ratio, 0.5f - 1e-6f);
          EXPECT_LE(ratio, 1.0f);
          some_clipped |= ratio < 1.0f;
        }
      }
    }
    EXPECT_NEAR(total, r.final_loss, 1e-12 * total);
  }
  EXPECT_TRUE(some_clipped);
}

TEST_F(AwqSynthetic, ImportanceAndOtherGranularities) {
  // Importance: the quantizer sees mean (X/s)² per column.
  AwqQuantizer q = awq_quantizer(GgmlType::Q4_K);
  int with_importance = 0;
  const AwqQuantizer::FakeQuantFn inner = q.fake_quantize;
  q.fake_quantize = [&](const float* w, int64_t rows, int64_t cols, const float* imp, float* out) {
    with_importance += imp != nullptr;
    inner(w, rows, cols, imp, out);
  };
  const std::vector<MatrixView> one(views.begin(), views.begin() + 1);
  const AwqResult ri = awq_search(X.data(), kN, kIn, one, q, AwqOptions{.alpha_grid = 4, .clip_grid = 4, .importance = true});
  EXPECT_GT(with_importance, 0);
  EXPECT_LE(ri.final_loss, ri.rtn_loss);
  // Per-channel affine clips whole rows; per-tensor affine cannot clip per group.
  const AwqResult rc = awq_search(X.data(), kN, kIn, one, awq_quantizer(QuantScheme::per_channel(4, true)),
                                  AwqOptions{.alpha_grid = 4, .clip_grid = 4});
  EXPECT_LT(rc.final_loss, rc.rtn_loss);
  if (rc.clip_kept[0]) {
    EXPECT_EQ(rc.clip_ratios[0].size(), static_cast<size_t>(kRows));
  }
  const AwqResult rt = awq_search(X.data(), kN, kIn, one, awq_quantizer(QuantScheme::per_tensor(8, false)),
                                  AwqOptions{.alpha_grid = 4});
  EXPECT_FALSE(rt.clip_kept[0]);
  EXPECT_LE(rt.final_loss, rt.rtn_loss);
}

TEST(AwqClip, ClampsSymmetricAndMinMax) {
  std::vector<float> w = {-4, 1, 2, 3, -1, 0.5f, 8, -2};
  std::vector<float> sym = w, mm = w;
  awq_clip_weights(sym.data(), 1, 8, 4, true, std::vector<float>{0.5f, 1.0f});
  EXPECT_EQ(sym, (std::vector<float>{-2, 1, 2, 2, -1, 0.5f, 8, -2}));
  awq_clip_weights(mm.data(), 2, 4, 4, false, std::vector<float>{0.5f, 0.5f});
  EXPECT_EQ(mm, (std::vector<float>{-2, 1, 1.5f, 1.5f, -1, 0.5f, 4, -1}));
}

// y = W (rmsnorm(x) ⊙ γ) for the q/k/v group, attn_output after attention over V, ffn_down
// after SwiGLU: folding s into the producer and W diag(s) into the consumers leaves every
// fp32 output unchanged up to rounding.
TEST(AwqFold, PreservesTheFp32Function) {
  const int64_t T = 16, d = 64, ff = 96;
  std::mt19937 rng(5);
  std::uniform_real_distribution<float> su(0.1f, 10.0f);
  auto rand_scales = [&](int64_t count) {
    std::vector<float> s(static_cast<size_t>(count));
    for (auto& v : s) v = su(rng);
    return s;
  };
  const std::vector<float> x = llm_activations(T, d, 3);
  std::vector<float> gamma = gaussian(d, 1.0f, 4), Wq = gaussian(d * d, 0.1f, 5), Wv = gaussian(d * d, 0.1f, 6),
                     Wo = gaussian(d * d, 0.1f, 7), Wg = gaussian(ff * d, 0.1f, 8), Wu = gaussian(ff * d, 0.1f, 9),
                     Wd = gaussian(d * ff, 0.1f, 10);
  for (auto& g : gamma) g = 1.0f + 0.2f * g;
  // A causal row-stochastic mixing matrix stands in for softmax(QKᵀ).
  std::vector<float> A(static_cast<size_t>(T * T), 0.0f);
  for (int64_t i = 0; i < T; ++i)
    for (int64_t j = 0; j <= i; ++j) A[static_cast<size_t>(i * T + j)] = 1.0f / static_cast<float>(i + 1);

  auto forward = [&](const std::vector<float>& g, const std::vector<float>& wq, const std::vector<float>& wv,
                     const std::vector<float>& wo, const std::vector<float>& wu, const std::vector<float>& wd) {
    std::vector<float> h(static_cast<size_t>(T * d));
    for (int64_t t = 0; t < T; ++t) {
      double ss = 0;
      for (int64_t j = 0; j < d; ++j) ss += static_cast<double>(x[static_cast<size_t>(t * d + j)]) * x[static_cast<size_t>(t * d + j)];
      const float inv = static_cast<float>(1.0 / std::sqrt(ss / d + 1e-6));
      for (int64_t j = 0; j < d; ++j) h[static_cast<size_t>(t * d + j)] = x[static_cast<size_t>(t * d + j)] * inv * g[static_cast<size_t>(j)];
    }
    std::vector<float> q(static_cast<size_t>(T * d)), v(q.size()), att(q.size()), o(q.size());
    matmul_f32__ref(wq.data(), d, d, h.data(), T, q.data());
    matmul_f32__ref(wv.data(), d, d, h.data(), T, v.data());
    for (int64_t i = 0; i < T; ++i)
      for (int64_t c = 0; c < d; ++c) {
        double s = 0;
        for (int64_t j = 0; j < T; ++j) s += static_cast<double>(A[static_cast<size_t>(i * T + j)]) * v[static_cast<size_t>(j * d + c)];
        att[static_cast<size_t>(i * d + c)] = static_cast<float>(s);
      }
    matmul_f32__ref(wo.data(), d, d, att.data(), T, o.data());
    std::vector<float> gate(static_cast<size_t>(T * ff)), up(gate.size()), down(static_cast<size_t>(T * d));
    matmul_f32__ref(Wg.data(), d, ff, o.data(), T, gate.data());
    matmul_f32__ref(wu.data(), d, ff, o.data(), T, up.data());
    for (size_t i = 0; i < gate.size(); ++i) gate[i] = gate[i] / (1.0f + std::exp(-gate[i])) * up[i];
    matmul_f32__ref(wd.data(), ff, d, gate.data(), T, down.data());
    std::vector<float> out = q;  // every stage's output, so each fold is checked
    out.insert(out.end(), o.begin(), o.end());
    out.insert(out.end(), down.begin(), down.end());
    return out;
  };
  const std::vector<float> want = forward(gamma, Wq, Wv, Wo, Wu, Wd);

  const std::vector<float> s1 = rand_scales(d), s2 = rand_scales(d), s3 = rand_scales(ff);
  fold_into_norm(gamma, s1);
  scale_columns(Wq.data(), d, d, s1);
  scale_columns(Wv.data(), d, d, s1);
  fold_into_linear_rows(Wv.data(), d, d, s2);  // v rows ÷ s2, attn_output columns × s2
  scale_columns(Wo.data(), d, d, s2);
  fold_into_linear_rows(Wu.data(), ff, d, s3);  // up rows ÷ s3, down columns × s3
  scale_columns(Wd.data(), d, ff, s3);
  const std::vector<float> got = forward(gamma, Wq, Wv, Wo, Wu, Wd);
  ASSERT_EQ(got.size(), want.size());
  for (int stage = 0; stage < 3; ++stage) {
    const size_t n = static_cast<size_t>(T * d);
    double max_ref = 0, max_diff = 0;
    for (size_t i = stage * n; i < (stage + 1) * n; ++i) {
      max_ref = std::max(max_ref, std::fabs(static_cast<double>(want[i])));
      max_diff = std::max(max_diff, std::fabs(static_cast<double>(want[i]) - got[i]));
    }
    EXPECT_LE(max_diff, 1e-5 * max_ref) << "stage " << stage;
  }
}

TEST(AwqFold, RejectsBadScales) {
  std::vector<float> g(4, 1.0f);
  EXPECT_THROW(fold_into_norm(g, std::vector<float>{1, 2, 0, 1}), Error);
  EXPECT_THROW(fold_into_norm(g, std::vector<float>{1, 2, 3}), Error);
  EXPECT_THROW(scale_columns(g.data(), 1, 4, std::vector<float>{1, NAN, 1, 1}), Error);
}

TEST(Awq, RejectsBadInputs) {
  std::vector<float> X(64 * 32, 1.0f), W(8 * 32, 0.5f);
  const MatrixView v{W.data(), 8, 32};
  const AwqQuantizer q = awq_quantizer(GgmlType::Q4_0);
  X[100] = NAN;
  EXPECT_THROW(awq_search(X.data(), 64, 32, {&v, 1}, q), Error);
  X[100] = 1.0f;
  const MatrixView bad{W.data(), 8, 16};
  EXPECT_THROW(awq_search(X.data(), 64, 32, {&bad, 1}, q), Error);
  EXPECT_THROW(awq_search(X.data(), 128, 16, {&bad, 1}, q), Error);  // 16 is not a multiple of 32
  EXPECT_THROW(awq_search(X.data(), 64, 32, {&v, 1}, q, AwqOptions{.min_clip = 0.0f}), Error);
  EXPECT_THROW(awq_quantizer(GgmlType::IQ2_XXS), Error);
  EXPECT_NO_THROW(awq_search(X.data(), 64, 32, {&v, 1}, q));  // constant data: α = 0 ties win
}

}  // namespace
}  // namespace lowbit
