#include "quant/methods/awq_gptq.h"

#include <cmath>
#include <cstdio>
#include <random>
#include <vector>

#include <gtest/gtest.h>

#include "core/error.h"
#include "kernels/matmul.h"
#include "quant/methods/awq.h"
#include "quant/methods/gptq.h"
#include "quant/methods/hessian.h"
#include "quant/methods/synthetic_activations_test.h"

namespace lowbit {
namespace {

using testing_util::gaussian;
using testing_util::llm_activations;

// ‖X Wᵀ − (X diag(s)⁻¹) Ŵᵀ‖² / ‖X Wᵀ‖² in double: the deployed layer's relative output error.
double output_error(const std::vector<float>& X, int64_t n, int64_t in, const std::vector<float>& W, int64_t rows,
                    const std::vector<float>& What, const std::vector<float>& s) {
  std::vector<float> Xs(X.size());
  for (int64_t t = 0; t < n; ++t)
    for (int64_t j = 0; j < in; ++j) Xs[static_cast<size_t>(t * in + j)] = X[static_cast<size_t>(t * in + j)] / s[static_cast<size_t>(j)];
  std::vector<float> y(static_cast<size_t>(n * rows)), yq(y.size());
  matmul_f32(W.data(), in, rows, X.data(), n, y.data());
  matmul_f32(What.data(), in, rows, Xs.data(), n, yq.data());
  double num = 0, den = 0;
  for (size_t i = 0; i < y.size(); ++i) {
    num += (static_cast<double>(y[i]) - yq[i]) * (static_cast<double>(y[i]) - yq[i]);
    den += static_cast<double>(y[i]) * y[i];
  }
  return num / den;
}

TEST(AwqGptq, ScaledHessianIsTheHessianOfTheScaledInput) {
  const int64_t n = 300, in = 40;
  const std::vector<float> X = llm_activations(n, in, 7);
  std::vector<float> s(in), Xs(X.size());
  for (int64_t j = 0; j < in; ++j) s[j] = 0.25f + 0.1f * static_cast<float>(j % 17);
  for (int64_t t = 0; t < n; ++t)
    for (int64_t j = 0; j < in; ++j) Xs[t * in + j] = X[t * in + j] / s[j];
  HessianAccumulator a(in), b(in);
  a.add(X.data(), n);
  b.add(Xs.data(), n);
  const std::vector<float> H = a.finalize(), want = b.finalize();
  const std::vector<float> got = scale_hessian(H.data(), in, s);
  for (size_t i = 0; i < got.size(); ++i) EXPECT_NEAR(got[i], want[i], 1e-4 * (std::fabs(want[i]) + 1e-3)) << "element " << i;
  // s = 1 leaves H unchanged; a bad scale is an Error.
  const std::vector<float> ones(in, 1.0f);
  EXPECT_EQ(scale_hessian(H.data(), in, ones), H);
  s[3] = 0.0f;
  EXPECT_THROW(scale_hessian(H.data(), in, s), Error);
}

// One synthetic q/k/v-like group per block type: AWQ+GPTQ's output error on the calibration
// input is no worse than AWQ with round-to-nearest (clip search on, its strongest setting),
// and stays close on held-out activations.
TEST(AwqGptq, NoWorseThanAwqRoundToNearest) {
  const int64_t n = 1024, in = 256;
  const std::vector<float> X = llm_activations(n, in, 1), held = llm_activations(n, in, 99);
  const std::vector<int64_t> rows = {64, 32};
  std::vector<std::vector<float>> W;
  std::vector<MatrixView> views;
  for (size_t k = 0; k < rows.size(); ++k) W.push_back(gaussian(rows[k] * in, 0.02f, 10 + static_cast<uint32_t>(k)));
  for (size_t k = 0; k < rows.size(); ++k) views.push_back({W[k].data(), rows[k], in});
  HessianAccumulator acc(in);
  acc.add(X.data(), n);
  const std::vector<float> H = acc.finalize();

  for (GgmlType type : {GgmlType::Q4_0, GgmlType::Q3_K, GgmlType::Q2_K}) {
    SCOPED_TRACE(std::string(ggml_type_name(type)));
    const AwqQuantizer q = awq_quantizer(type);
    AwqOptions rtn_opts;   // AWQ as `--method awq` runs it: scale and clip search, then rounding
    const AwqResult awq = awq_search(X.data(), n, in, views, q, rtn_opts);
    AwqOptions ao;
    ao.clip = false;       // the pipeline's awq+gptq default
    // The pipeline's composition: search, then GPTQ of each W diag(s) under H'.
    const AwqResult ag_awq = awq_search(X.data(), n, in, views, q, ao);
    const std::vector<float> Hs = scale_hessian(H.data(), in, ag_awq.scales);
    std::vector<GptqGgufResult> ag;
    for (size_t k = 0; k < rows.size(); ++k)
      ag.push_back(gptq_quantize_gguf(type, ag_awq.weights[k].data(), rows[k], in, Hs.data()));
    double awq_cal = 0, ag_cal = 0, awq_held = 0, ag_held = 0;
    for (size_t k = 0; k < rows.size(); ++k) {
      std::vector<float> deq(awq.weights[k].size());
      q.fake_quantize(awq.weights[k].data(), rows[k], in, nullptr, deq.data());
      awq_cal += output_error(X, n, in, W[k], rows[k], deq, awq.scales);
      awq_held += output_error(held, n, in, W[k], rows[k], deq, awq.scales);
      ag_cal += output_error(X, n, in, W[k], rows[k], ag[k].weights, ag_awq.scales);
      ag_held += output_error(held, n, in, W[k], rows[k], ag[k].weights, ag_awq.scales);
    }
    std::printf("  %-5s relative output error: calibration AWQ-RTN %.5f AWQ+GPTQ %.5f; held-out %.5f vs %.5f\n",
                std::string(ggml_type_name(type)).c_str(), awq_cal, ag_cal, awq_held, ag_held);
    EXPECT_LE(ag_cal, awq_cal);
    EXPECT_LE(ag_held, awq_held * 1.05);
    // Same scale search (clipping happens after it): both found the same s.
    EXPECT_EQ(ag_awq.scales, awq.scales);
  }
}

}  // namespace
}  // namespace lowbit
