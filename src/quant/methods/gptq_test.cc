// GPTQ: the factorization and the update loop against closed forms in double precision, the
// targets against round-to-nearest on synthetic layers, and the error paths.
#include "quant/methods/gptq.h"

#include <chrono>
#include <cmath>
#include <cstdio>
#include <limits>
#include <random>
#include <vector>

#include <gtest/gtest.h>

#include "core/error.h"
#include "core/half.h"
#include "quant/codecs/codec.h"
#include "quant/linear/quantized_tensor.h"
#include "quant/methods/grid.h"
#include "quant/methods/hessian.h"

namespace lowbit {
namespace {

// ---- synthetic layers ----------------------------------------------------------------------

// A linear layer W (rows × cols) and calibration inputs X (n × cols) shaped like a
// transformer's: neighbouring features correlated (AR(1)), a few dominant directions shared
// by all tokens, and a few outlier channels with activations ~10x the rest.
struct Layer {
  int64_t rows = 0, cols = 0, n = 0;
  std::vector<float> W, X, H, imp;
};

Layer make_layer(int64_t rows, int64_t cols, int64_t n, uint32_t seed, bool outliers = true) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> normal(0.f, 1.f);
  Layer L;
  L.rows = rows;
  L.cols = cols;
  L.n = n;
  L.W.resize(rows * cols);
  for (int64_t r = 0; r < rows; ++r) {
    const float row_scale = std::exp(0.3f * normal(rng));
    for (int64_t c = 0; c < cols; ++c) L.W[r * cols + c] = 0.02f * row_scale * normal(rng);
  }
  constexpr int kDirs = 4;
  std::vector<float> dirs(kDirs * cols);
  for (auto& v : dirs) v = normal(rng);
  std::vector<float> chan(cols, 1.0f);
  if (outliers)
    for (int k = 0; k < static_cast<int>(cols / 64); ++k) chan[rng() % cols] = 8.0f + 4.0f * std::fabs(normal(rng));
  L.X.resize(n * cols);
  for (int64_t t = 0; t < n; ++t) {
    float z[kDirs];
    for (float& v : z) v = 1.5f * normal(rng);
    float prev = 0.0f;
    for (int64_t c = 0; c < cols; ++c) {
      prev = 0.8f * prev + 0.6f * normal(rng);
      float x = prev;
      for (int d = 0; d < kDirs; ++d) x += z[d] * dirs[d * cols + c] * 0.5f;
      L.X[t * cols + c] = x * chan[c];
    }
  }
  HessianAccumulator acc(cols);
  acc.add(L.X.data(), n);
  L.H = acc.finalize();
  L.imp = acc.importance();
  return L;
}

// ‖X Wᵀ − X Ŵᵀ‖²_F = (n/2) Σ_rows δᵀ H δ, δ = w − ŵ, in double.
double output_error(const Layer& L, const std::vector<float>& What) {
  double total = 0.0;
  std::vector<double> d(L.cols);
  for (int64_t r = 0; r < L.rows; ++r) {
    for (int64_t c = 0; c < L.cols; ++c) d[c] = static_cast<double>(L.W[r * L.cols + c]) - What[r * L.cols + c];
    for (int64_t i = 0; i < L.cols; ++i) {
      double s = 0.0;
      for (int64_t j = 0; j < L.cols; ++j) s += L.H[i * L.cols + j] * d[j];
      total += d[i] * s;
    }
  }
  return total * static_cast<double>(L.n) / 2.0;
}

// Σ_rows δᵀ (H + λI) δ: what GPTQ's Σ err² equals in exact arithmetic (gptq.h).
double damped_quadratic(const Layer& L, const std::vector<float>& What, double damp) {
  double sq = 0.0;
  for (int64_t i = 0; i < L.rows * L.cols; ++i) {
    const double d = static_cast<double>(L.W[i]) - What[i];
    sq += d * d;
  }
  return output_error(L, What) * 2.0 / static_cast<double>(L.n) + damp * sq;
}

std::vector<float> rtn_gguf(GgmlType t, const Layer& L, const float* importance) {
  uint64_t row_bytes = 0;
  ggml_row_bytes(t, L.cols, &row_bytes);
  std::vector<uint8_t> q(row_bytes * L.rows);
  quantize_tensor(t, L.W.data(), q.data(), L.rows, L.cols, importance);
  std::vector<float> y(L.rows * L.cols);
  dequantize_tensor(t, q.data(), y.data(), L.rows, L.cols);
  return y;
}

bool bitwise_equal(const std::vector<float>& a, const std::vector<float>& b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i)
    if (f32_bits(a[i]) != f32_bits(b[i])) return false;
  return true;
}

// ---- the factor and the update loop in double precision -------------------------------------

// Lower Cholesky factor of a symmetric positive definite A (n × n) in plain loops.
std::vector<double> cholesky_lower(const std::vector<double>& A, int64_t n) {
  std::vector<double> L(n * n, 0.0);
  for (int64_t j = 0; j < n; ++j) {
    double s = A[j * n + j];
    for (int64_t k = 0; k < j; ++k) s -= L[j * n + k] * L[j * n + k];
    L[j * n + j] = std::sqrt(s);
    for (int64_t i = j + 1; i < n; ++i) {
      double t = A[i * n + j];
      for (int64_t k = 0; k < j; ++k) t -= L[i * n + k] * L[j * n + k];
      L[i * n + j] = t / L[j * n + j];
    }
  }
  return L;
}

// A⁻¹ for symmetric positive definite A, via its Cholesky factor (torch.cholesky_inverse).
std::vector<double> spd_inverse(const std::vector<double>& A, int64_t n) {
  const std::vector<double> L = cholesky_lower(A, n);
  std::vector<double> inv(n * n);
  std::vector<double> y(n), x(n);
  for (int64_t col = 0; col < n; ++col) {
    for (int64_t i = 0; i < n; ++i) {  // L y = e_col
      double s = i == col ? 1.0 : 0.0;
      for (int64_t k = 0; k < i; ++k) s -= L[i * n + k] * y[k];
      y[i] = s / L[i * n + i];
    }
    for (int64_t i = n - 1; i >= 0; --i) {  // Lᵀ x = y
      double s = y[i];
      for (int64_t k = i + 1; k < n; ++k) s -= L[k * n + i] * x[k];
      x[i] = s / L[i * n + i];
    }
    for (int64_t i = 0; i < n; ++i) inv[i * n + col] = x[i];
  }
  return inv;
}

std::vector<double> damped(const std::vector<float>& H, int64_t n, double damp) {
  std::vector<double> A(H.begin(), H.end());
  for (int64_t i = 0; i < n; ++i) A[i * n + i] += damp;
  return A;
}

// The reference implementation's three steps: chol(H), cholesky_inverse, chol(·, upper).
TEST(GptqFactor, MatchesTheReferenceThreeStepRoute) {
  const Layer L = make_layer(4, 48, 200, 21);
  const int64_t n = L.cols;
  const double damp = 0.01 * 2.0;
  std::vector<float> U(n * n);
  ASSERT_TRUE(gptq_inverse_factor(L.H.data(), n, damp, U.data()));
  const std::vector<double> Hinv = spd_inverse(damped(L.H, n, damp), n);
  const std::vector<double> Lo = cholesky_lower(Hinv, n);  // Hinv = Lo Loᵀ = UᵀU with U = Loᵀ
  double max_ref = 0;
  for (double v : Lo) max_ref = std::max(max_ref, std::fabs(v));
  for (int64_t i = 0; i < n; ++i)
    for (int64_t j = 0; j < n; ++j) {
      const double ref = j >= i ? Lo[j * n + i] : 0.0;
      ASSERT_NEAR(U[i * n + j], ref, 2e-5 * max_ref) << i << "," << j;
    }
}

TEST(GptqFactor, ReportsANonPositiveDefiniteMatrix) {
  const int64_t n = 8;
  std::vector<float> H(n * n, -1.0f);  // 2I − 11ᵀ: eigenvalue 2 − n < 0
  for (int64_t i = 0; i < n; ++i) H[i * n + i] = 1.0f;
  std::vector<float> U(n * n);
  EXPECT_FALSE(gptq_inverse_factor(H.data(), n, 0.1, U.data()));
  EXPECT_TRUE(gptq_inverse_factor(H.data(), n, 10.0, U.data()));
}

// Rounds columns [0, kQuantized) to multiples of 0.01 and leaves the rest as they are (zero
// error), so after the run the rest holds exactly the compensation GPTQ applied.
class FirstColumnsQuantizer : public GptqColumnQuantizer {
 public:
  explicit FirstColumnsQuantizer(int64_t k) : k_(k) {}
  float quantize(int64_t, int64_t j, const float* row) override {
    return j < k_ ? std::round(row[j] * 100.0f) / 100.0f : row[j];
  }

 private:
  int64_t k_;
};

// After quantizing the columns Q = [0, k) to values q, OBS leaves the rest R at the optimum
// of (w − ŵ)ᵀ H (w − ŵ) with ŵ_Q = q fixed: ŵ_R = w_R + H_RR⁻¹ H_RQ (w_Q − q)
// (the sequential updates of eq. 2 compose to this closed form). Checked for lazy blocks
// narrower than, equal to and wider than Q, so both the in-block updates and the batched
// sgemm update are exercised.
TEST(GptqRun, MatchesTheClosedFormObsUpdate) {
  const Layer L = make_layer(6, 40, 300, 5);
  const int64_t n = L.cols, k = 16;
  const double damp = 0.05;
  std::vector<float> U(n * n);
  ASSERT_TRUE(gptq_inverse_factor(L.H.data(), n, damp, U.data()));
  const std::vector<double> A = damped(L.H, n, damp);
  // H_RR⁻¹ in double.
  const int64_t m = n - k;
  std::vector<double> Arr(m * m);
  for (int64_t i = 0; i < m; ++i)
    for (int64_t j = 0; j < m; ++j) Arr[i * m + j] = A[(k + i) * n + (k + j)];
  const std::vector<double> Arr_inv = spd_inverse(Arr, m);
  for (int64_t B : {5, 8, 16, 128}) {
    std::vector<float> W = L.W;
    FirstColumnsQuantizer quant(k);
    const double err = gptq_run(W.data(), L.rows, n, U.data(), quant, B);
    EXPECT_GT(err, 0.0);
    for (int64_t r = 0; r < L.rows; ++r) {
      std::vector<double> dq(k), rhs(m, 0.0);
      for (int64_t j = 0; j < k; ++j) dq[j] = static_cast<double>(L.W[r * n + j]) - W[r * n + j];
      for (int64_t i = 0; i < m; ++i)
        for (int64_t j = 0; j < k; ++j) rhs[i] += A[(k + i) * n + j] * dq[j];
      for (int64_t i = 0; i < m; ++i) {
        double want = L.W[r * n + k + i];
        for (int64_t j = 0; j < m; ++j) want += Arr_inv[i * m + j] * rhs[j];
        ASSERT_NEAR(W[r * n + k + i], want, 2e-5 + 2e-4 * std::fabs(want)) << "B " << B << " row " << r << " col " << k + i;
      }
    }
  }
}

// ---- targets ---------------------------------------------------------------------------------

constexpr GgmlType kGgufTypes[] = {GgmlType::Q8_0, GgmlType::Q6_K, GgmlType::Q5_0, GgmlType::Q5_1,
                                   GgmlType::Q5_K, GgmlType::Q4_0, GgmlType::Q4_1, GgmlType::IQ4_NL,
                                   GgmlType::Q4_K, GgmlType::IQ4_XS, GgmlType::Q3_K, GgmlType::Q2_K};

// One shared layer for the comparisons: 128 × 512 with 2048 calibration rows.
const Layer& shared_layer() {
  static const Layer L = make_layer(128, 512, 2048, 1234);
  return L;
}

class GptqGguf : public ::testing::TestWithParam<GgmlType> {};

TEST_P(GptqGguf, BeatsRoundToNearestAndImatrix) {
  const GgmlType t = GetParam();
  const Layer& L = shared_layer();
  const double rtn = output_error(L, rtn_gguf(t, L, nullptr));
  const double imat = output_error(L, rtn_gguf(t, L, L.imp.data()));
  const GptqGgufResult g = gptq_quantize_gguf(t, L.W.data(), L.rows, L.cols, L.H.data());
  const double gptq = output_error(L, g.weights);
  GptqOptions ao;
  ao.act_order = true;
  const GptqGgufResult ga = gptq_quantize_gguf(t, L.W.data(), L.rows, L.cols, L.H.data(), ao);
  const double gptq_ao = output_error(L, ga.weights);
  std::printf("[ %-7s ] output error  RTN %.4e  imatrix-RTN %.4e  GPTQ %.4e (%.3f x imatrix)  GPTQ act-order %.4e (%.3f)\n",
              std::string(ggml_type_name(t)).c_str(), rtn, imat, gptq, gptq / imat, gptq_ao, gptq_ao / imat);
  EXPECT_LT(gptq, rtn);
  EXPECT_LT(gptq, imat);
  EXPECT_LT(gptq_ao, imat);
  // Below 5 bits the win is large, not a rounding accident.
  if (ggml_bits_per_weight(t) < 5.0) {
    EXPECT_LT(gptq, 0.8 * imat);
  }

  // The bytes decode to exactly the values GPTQ used.
  for (const GptqGgufResult* r : {&g, &ga}) {
    std::vector<float> y(L.rows * L.cols);
    dequantize_tensor(t, r->data.data(), y.data(), L.rows, L.cols);
    EXPECT_TRUE(bitwise_equal(y, r->weights));
    // Σ err² is the damped quadratic form of the final error (gptq.h).
    const double q = damped_quadratic(L, r->weights, r->report.damp);
    EXPECT_NEAR(r->report.error, q, 2e-3 * q);
  }
}

INSTANTIATE_TEST_SUITE_P(AllTypes, GptqGguf, ::testing::ValuesIn(kGgufTypes),
                         [](const auto& info) { return std::string(ggml_type_name(info.param)); });

struct AffineCase {
  int bits;
  int64_t group;  // 0: per-channel
  bool symmetric;
};

std::string affine_name(const AffineCase& c) {
  return std::to_string(c.bits) + "bit_" + (c.group ? "g" + std::to_string(c.group) : std::string("channel")) +
         (c.symmetric ? "_sym" : "_asym");
}

QuantScheme scheme_of(const AffineCase& c) {
  return c.group ? QuantScheme::per_group(c.bits, c.group, c.symmetric) : QuantScheme::per_channel(c.bits, c.symmetric);
}

class GptqAffine : public ::testing::TestWithParam<AffineCase> {};

TEST_P(GptqAffine, BeatsRoundToNearestAndImatrix) {
  const AffineCase c = GetParam();
  const QuantScheme s = scheme_of(c);
  const Layer& L = shared_layer();
  const double rtn = output_error(L, dequantize_tensor(quantize_tensor(L.W.data(), L.rows, L.cols, s)));
  const double imat = output_error(
      L, dequantize_tensor(quantize_tensor(L.W.data(), L.rows, L.cols, s, ScaleSearch::importance(L.imp))));
  const GptqAffineResult g = gptq_quantize_affine(L.W.data(), L.rows, L.cols, L.H.data(), s);
  const double gptq = output_error(L, g.weights);
  GptqOptions ao;
  ao.act_order = true;
  const GptqAffineResult ga = gptq_quantize_affine(L.W.data(), L.rows, L.cols, L.H.data(), s, ao);
  const double gptq_ao = output_error(L, ga.weights);
  std::printf("[ %-18s ] output error  RTN %.4e  imatrix-RTN %.4e  GPTQ %.4e (%.3f x imatrix)  GPTQ act-order %.4e (%.3f)\n",
              affine_name(c).c_str(), rtn, imat, gptq, gptq / imat, gptq_ao, gptq_ao / imat);
  EXPECT_LT(gptq, rtn);
  EXPECT_LT(gptq, 0.8 * imat);
  EXPECT_LT(gptq_ao, 0.8 * imat);

  for (const GptqAffineResult* r : {&g, &ga}) {
    EXPECT_NO_THROW(r->tensor.validate());
    EXPECT_TRUE(bitwise_equal(dequantize_tensor(r->tensor), r->weights));
    const double q = damped_quadratic(L, r->weights, r->report.damp);
    EXPECT_NEAR(r->report.error, q, 2e-3 * q);
    EXPECT_EQ(r->tensor.error, r->report.error);
    ASSERT_EQ(r->g_idx.size(), static_cast<size_t>(L.cols));
    for (int64_t col = 0; col < L.cols; ++col) EXPECT_EQ(r->g_idx[col], c.group ? col / c.group : 0);
  }
}

std::vector<AffineCase> affine_cases() {
  std::vector<AffineCase> v;
  for (int bits : {4, 3, 2})
    for (int64_t g : {32, 64, 128})
      for (bool sym : {true, false}) v.push_back({bits, g, sym});
  v.push_back({4, 0, false});
  v.push_back({8, 128, true});
  return v;
}

INSTANTIATE_TEST_SUITE_P(Schemes, GptqAffine, ::testing::ValuesIn(affine_cases()),
                         [](const auto& info) { return affine_name(info.param); });

// With outlier channels, quantizing them first (act-order) does at least as well, summed
// over a few schemes and seeds (single cases can go either way by a little).
TEST(GptqActOrder, HelpsOnOutlierChannels) {
  double plain = 0, act = 0;
  for (uint32_t seed : {1u, 2u, 3u}) {
    const Layer L = make_layer(64, 256, 1024, seed);
    GptqOptions ao;
    ao.act_order = true;
    for (const QuantScheme& s : {QuantScheme::per_group(3, 128, false), QuantScheme::per_channel(4, true),
                                 QuantScheme::per_group(2, 64, false)}) {
      plain += output_error(L, gptq_quantize_affine(L.W.data(), L.rows, L.cols, L.H.data(), s).weights);
      act += output_error(L, gptq_quantize_affine(L.W.data(), L.rows, L.cols, L.H.data(), s, ao).weights);
    }
    for (GgmlType t : {GgmlType::Q4_K, GgmlType::Q3_K}) {
      plain += output_error(L, gptq_quantize_gguf(t, L.W.data(), L.rows, L.cols, L.H.data()).weights);
      act += output_error(L, gptq_quantize_gguf(t, L.W.data(), L.rows, L.cols, L.H.data(), ao).weights);
    }
  }
  std::printf("act-order / plain output error: %.3f\n", act / plain);
  EXPECT_LE(act, plain * 1.02);
}

TEST(GptqActOrder, ProcessesColumnsByDescendingHessianDiagonal) {
  const Layer L = make_layer(16, 128, 256, 9);
  GptqOptions ao;
  ao.act_order = true;
  const GptqAffineResult r = gptq_quantize_affine(L.W.data(), L.rows, L.cols, L.H.data(), QuantScheme::per_group(4, 32, true), ao);
  ASSERT_EQ(r.report.perm.size(), static_cast<size_t>(L.cols));
  std::vector<int> seen(L.cols, 0);
  for (int64_t k = 0; k < L.cols; ++k) {
    ++seen[r.report.perm[k]];
    if (k > 0) {
      EXPECT_GE(L.H[r.report.perm[k - 1] * (L.cols + 1)], L.H[r.report.perm[k] * (L.cols + 1)]);
    }
  }
  for (int s : seen) EXPECT_EQ(s, 1);
  for (int64_t col = 0; col < L.cols; ++col) EXPECT_EQ(r.g_idx[col], col / 32);  // static groups
}

// The lazy batch width changes only float rounding, not the result.
TEST(GptqRun, BlockSizeDoesNotChangeTheResult) {
  const Layer& L = shared_layer();
  const QuantScheme s = QuantScheme::per_group(4, 32, false);
  GptqOptions narrow;
  narrow.block_size = 32;
  const GptqAffineResult a = gptq_quantize_affine(L.W.data(), L.rows, L.cols, L.H.data(), s, narrow);
  const GptqAffineResult b = gptq_quantize_affine(L.W.data(), L.rows, L.cols, L.H.data(), s);
  int64_t same = 0;
  for (size_t i = 0; i < a.tensor.codes.size(); ++i) same += a.tensor.codes[i] == b.tensor.codes[i];
  EXPECT_GE(static_cast<double>(same), 0.99 * static_cast<double>(a.tensor.codes.size()));
  EXPECT_NEAR(a.report.error, b.report.error, 0.01 * b.report.error);
}

// ---- degenerate Hessians and bad input -------------------------------------------------------

TEST(GptqHessian, DeadColumnsBecomeZero) {
  Layer L = make_layer(32, 256, 512, 17);
  const std::vector<int64_t> dead = {0, 5, 100, 255};
  for (int64_t t = 0; t < L.n; ++t)
    for (int64_t c : dead) L.X[t * L.cols + c] = 0.0f;
  HessianAccumulator acc(L.cols);
  acc.add(L.X.data(), L.n);
  L.H = acc.finalize();
  for (bool act_order : {false, true}) {
    GptqOptions o;
    o.act_order = act_order;
    const GptqAffineResult a = gptq_quantize_affine(L.W.data(), L.rows, L.cols, L.H.data(), QuantScheme::per_group(4, 32, false), o);
    EXPECT_EQ(a.report.dead_columns, 4);
    for (int64_t r = 0; r < L.rows; ++r)
      for (int64_t c : dead) EXPECT_EQ(a.weights[r * L.cols + c], 0.0f);  // zero is exact in affine grids
    for (GgmlType t : {GgmlType::Q4_K, GgmlType::Q4_0, GgmlType::IQ4_XS}) {
      const GptqGgufResult g = gptq_quantize_gguf(t, L.W.data(), L.rows, L.cols, L.H.data(), o);
      EXPECT_EQ(g.report.dead_columns, 4);
      EXPECT_TRUE(std::isfinite(g.report.error));
      for (float v : g.weights) ASSERT_TRUE(std::isfinite(v));
    }
  }
}

// Fewer calibration rows than inputs: H has rank n < in, singular without dampening.
TEST(GptqHessian, DampeningHandlesRankDeficientHessians) {
  const Layer L = make_layer(32, 256, 48, 23);
  std::vector<float> U(L.cols * L.cols);
  EXPECT_FALSE(gptq_inverse_factor(L.H.data(), L.cols, -1e-3, U.data()));  // singular: no factor
  const GptqAffineResult a = gptq_quantize_affine(L.W.data(), L.rows, L.cols, L.H.data(), QuantScheme::per_group(3, 64, false));
  EXPECT_EQ(a.report.percdamp, 0.01);
  EXPECT_TRUE(std::isfinite(a.report.error));
  const double rtn = output_error(L, dequantize_tensor(quantize_tensor(L.W.data(), L.rows, L.cols, QuantScheme::per_group(3, 64, false))));
  EXPECT_LT(output_error(L, a.weights), rtn);
  const GptqGgufResult g = gptq_quantize_gguf(GgmlType::Q3_K, L.W.data(), L.rows, L.cols, L.H.data());
  EXPECT_LT(output_error(L, g.weights), output_error(L, rtn_gguf(GgmlType::Q3_K, L, nullptr)));
}

TEST(GptqHessian, RaisesDampingThenGivesUp) {
  const int64_t n = 64, rows = 4;
  std::vector<float> W(rows * n, 0.1f);
  // Pairs [[1, 1.5], [1.5, 1]] (eigenvalue −0.5) need λ > 0.5 · mean(diag H): fails at percdamp
  // 0.01 and 0.1, works at 1.
  std::vector<float> H(n * n, 0.0f);
  for (int64_t i = 0; i < n; ++i) H[i * n + i] = 1.0f;
  for (int64_t i = 0; i + 1 < n; i += 2) H[(i + 1) * n + i] = H[i * n + i + 1] = 1.5f;
  const GptqAffineResult a = gptq_quantize_affine(W.data(), rows, n, H.data(), QuantScheme::per_channel(4, false));
  EXPECT_DOUBLE_EQ(a.report.percdamp, 1.0);
  // 2I − 11ᵀ needs λ ≈ 62 · mean(diag H): beyond max_percdamp = 1.
  for (auto& v : H) v = -1.0f;
  for (int64_t i = 0; i < n; ++i) H[i * n + i] = 1.0f;
  EXPECT_THROW(gptq_quantize_affine(W.data(), rows, n, H.data(), QuantScheme::per_channel(4, false)), Error);
  EXPECT_THROW(gptq_quantize_gguf(GgmlType::Q4_0, W.data(), rows, n, H.data()), Error);
}

TEST(GptqInput, RejectsNonFiniteAndMalformedInput) {
  const Layer L = make_layer(8, 256, 300, 31);
  const QuantScheme s = QuantScheme::per_group(4, 32, true);
  const float nan = std::numeric_limits<float>::quiet_NaN();
  {
    std::vector<float> W = L.W;
    W[3 * L.cols + 17] = nan;
    EXPECT_THROW(gptq_quantize_affine(W.data(), L.rows, L.cols, L.H.data(), s), Error);
    EXPECT_THROW(gptq_quantize_gguf(GgmlType::Q4_K, W.data(), L.rows, L.cols, L.H.data()), Error);
    W[3 * L.cols + 17] = std::numeric_limits<float>::infinity();
    EXPECT_THROW(gptq_quantize_affine(W.data(), L.rows, L.cols, L.H.data(), s), Error);
  }
  {
    std::vector<float> H = L.H;
    H[40 * L.cols + 3] = nan;  // lower triangle
    EXPECT_THROW(gptq_quantize_affine(L.W.data(), L.rows, L.cols, H.data(), s), Error);
    EXPECT_THROW(gptq_quantize_gguf(GgmlType::Q8_0, L.W.data(), L.rows, L.cols, H.data()), Error);
    H = L.H;
    H[7 * L.cols + 7] = -1.0f;  // negative diagonal
    EXPECT_THROW(gptq_quantize_affine(L.W.data(), L.rows, L.cols, H.data(), s), Error);
  }
  // Row length not a multiple of the block; types without a grid; bad options and schemes.
  EXPECT_THROW(gptq_quantize_gguf(GgmlType::Q4_K, L.W.data(), L.rows * 2, 128, L.H.data()), Error);
  EXPECT_THROW(gptq_quantize_gguf(GgmlType::TQ2_0, L.W.data(), L.rows, L.cols, L.H.data()), Error);
  EXPECT_THROW(gptq_quantize_gguf(GgmlType::Q8_1, L.W.data(), L.rows, L.cols, L.H.data()), Error);
  EXPECT_THROW(gptq_quantize_affine(L.W.data(), L.rows, L.cols, L.H.data(), QuantScheme::per_group(4, 100, true)), Error);
  EXPECT_THROW(gptq_quantize_affine(L.W.data(), L.rows, L.cols, L.H.data(), QuantScheme::per_group(9, 32, true)), Error);
  GptqOptions o;
  o.percdamp = -0.1;
  EXPECT_THROW(gptq_quantize_affine(L.W.data(), L.rows, L.cols, L.H.data(), s, o), Error);
  o = {};
  o.block_size = 0;
  EXPECT_THROW(gptq_quantize_affine(L.W.data(), L.rows, L.cols, L.H.data(), s, o), Error);
  EXPECT_THROW(gptq_quantize_affine(L.W.data(), 0, L.cols, L.H.data(), s), Error);
}

// A clip search for the group ranges (AutoGPTQ's mse option) stays valid and no worse than
// min-max by much; mostly a smoke test of the weighted-search path.
TEST(GptqAffineOptions, ClipSearchRuns) {
  const Layer& L = shared_layer();
  const QuantScheme s = QuantScheme::per_group(3, 128, false);
  GptqOptions o;
  o.clip = ClipGrid{40, 0.6f};
  const GptqAffineResult a = gptq_quantize_affine(L.W.data(), L.rows, L.cols, L.H.data(), s, o);
  const GptqAffineResult b = gptq_quantize_affine(L.W.data(), L.rows, L.cols, L.H.data(), s);
  std::printf("3-bit g128: GPTQ with clip search / min-max output error: %.3f\n", output_error(L, a.weights) / output_error(L, b.weights));
  EXPECT_TRUE(bitwise_equal(dequantize_tensor(a.tensor), a.weights));
  EXPECT_LT(output_error(L, a.weights), 1.1 * output_error(L, b.weights));
}

// Manual: ./test_methods --gtest_also_run_disabled_tests --gtest_filter='*Timing*'
TEST(GptqTiming, DISABLED_Llama7bMlpSized2048x5632) {
  const int64_t rows = 2048, cols = 5632, n = 1024;
  std::mt19937 rng(1);
  std::normal_distribution<float> normal(0.f, 1.f);
  std::vector<float> W(rows * cols), X(n * cols);
  for (auto& v : W) v = 0.02f * normal(rng);
  for (auto& v : X) v = normal(rng);
  using clock = std::chrono::steady_clock;
  auto secs = [](clock::time_point a) { return std::chrono::duration<double>(clock::now() - a).count(); };
  auto t0 = clock::now();
  HessianAccumulator acc(cols);
  acc.add(X.data(), n);
  const std::vector<float> H = acc.finalize();
  std::printf("hessian (%ld rows): %.2f s\n", static_cast<long>(n), secs(t0));
  std::vector<float> U(cols * cols);
  t0 = clock::now();
  ASSERT_TRUE(gptq_inverse_factor(H.data(), cols, 0.02, U.data()));
  std::printf("inverse factor: %.2f s\n", secs(t0));
  t0 = clock::now();
  const GptqAffineResult a = gptq_quantize_affine(W.data(), rows, cols, H.data(), QuantScheme::per_group(4, 128, false));
  std::printf("gptq affine 4-bit g128: %.2f s\n", secs(t0));
  GptqOptions ao;
  ao.act_order = true;
  t0 = clock::now();
  (void)gptq_quantize_affine(W.data(), rows, cols, H.data(), QuantScheme::per_group(4, 128, false), ao);
  std::printf("gptq affine 4-bit g128 act-order: %.2f s\n", secs(t0));
  for (GgmlType t : {GgmlType::Q4_K, GgmlType::Q4_0, GgmlType::IQ4_XS}) {
    t0 = clock::now();
    (void)gptq_quantize_gguf(t, W.data(), rows, cols, H.data());
    std::printf("gptq %s: %.2f s\n", std::string(ggml_type_name(t)).c_str(), secs(t0));
  }
  EXPECT_TRUE(std::isfinite(a.report.error));
}

}  // namespace
}  // namespace lowbit
