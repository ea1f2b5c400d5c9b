#include "quant/methods/awq.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include <fmt/format.h>

#include "core/error.h"
#include "kernels/matmul.h"
#include "quant/codecs/codec.h"
#include "quant/linear/quantized_tensor.h"

namespace lowbit {
namespace {

constexpr float kMinScale = 1e-4f;  // llm-awq: x_max.pow(ratio).clamp(min=1e-4)

size_t sz(int64_t v) { return static_cast<size_t>(v); }

void check_finite(const float* x, int64_t rows, int64_t cols, const char* what) {
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t c = 0; c < cols; ++c)
      if (!std::isfinite(x[r * cols + c])) fail("awq: {} element (row {}, column {}) is {}", what, r, c, x[r * cols + c]);
}

// Σ_{t,o} (X Dᵀ)²_{t,o}: the squared output error of a weight error D (rows × in) on the
// activation rows X (n × in), sgemm in float, squares summed in double.
double output_error(const float* X, int64_t n, int64_t in, const float* D, int64_t rows, std::vector<float>& scratch) {
  scratch.resize(sz(n * rows));
  matmul_f32(D, in, rows, X, n, scratch.data());
  double e = 0;
  for (float v : scratch) e += static_cast<double>(v) * v;
  return e;
}

// One matrix under scales s (null: 1): scaled = W diag(s), deq = Q(scaled), and the weight
// error W − deq diag(s)⁻¹ in delta.
void scaled_error(const MatrixView& W, const float* s, const AwqQuantizer& q, const float* importance,
                  std::vector<float>& scaled, std::vector<float>& deq, std::vector<float>& delta) {
  const int64_t rows = W.rows, in = W.cols;
  scaled.assign(W.data, W.data + rows * in);
  if (s)
    for (int64_t r = 0; r < rows; ++r)
      for (int64_t j = 0; j < in; ++j) scaled[sz(r * in + j)] *= s[j];
  deq.resize(scaled.size());
  q.fake_quantize(scaled.data(), rows, in, importance, deq.data());
  delta.resize(scaled.size());
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t j = 0; j < in; ++j) {
      const size_t i = sz(r * in + j);
      delta[i] = W.data[i] - (s ? deq[i] / s[j] : deq[i]);
    }
}

// mean_n (X_nj / s_j)²: llama.cpp's imatrix of the scaled input.
std::vector<float> scaled_importance(const std::vector<double>& mean_sq, const std::vector<float>& s) {
  std::vector<float> imp(mean_sq.size());
  for (size_t j = 0; j < imp.size(); ++j) imp[j] = static_cast<float>(mean_sq[j] / (static_cast<double>(s[j]) * s[j]));
  return imp;
}

void check_inputs(const float* X, int64_t n, int64_t in, std::span<const MatrixView> weights, const AwqQuantizer& q) {
  if (!X || n < 1 || in < 1) fail("awq: need calibration activations (n = {}, in = {})", n, in);
  if (weights.empty()) fail("awq: no weight matrices");
  if (!q.fake_quantize) fail("awq: quantizer '{}' has no fake_quantize", q.name);
  if (q.row_multiple < 1 || in % q.row_multiple != 0)
    fail("awq: quantizer '{}' needs rows that are a multiple of {} columns, not {}", q.name, q.row_multiple, in);
  if (q.clip_group > 0 && in % q.clip_group != 0)
    fail("awq: clip group {} of quantizer '{}' does not divide the row length {}", q.clip_group, q.name, in);
  for (size_t k = 0; k < weights.size(); ++k) {
    const MatrixView& W = weights[k];
    if (!W.data || W.rows < 1 || W.cols != in)
      fail("awq: weight matrix {} is {} × {}, the activations have {} columns", k, W.rows, W.cols, in);
  }
}

// AWQ's auto_clip for one matrix W under scales s: the weights it clips are W diag(s).
struct ClipSearch {
  const MatrixView& W;
  const float* s;
  const float* xs;   // m × in subsample
  const float* xg;   // the same, regrouped: m × cg per clip group
  int64_t m, cg;
  const AwqQuantizer& q;
  const float* importance;
  const AwqOptions& opt;

  // W − Q(clipped) diag(s)⁻¹ into delta: the weight error in the unscaled frame, so errors
  // are measured against X exactly as the α search measured them.
  void weight_error(const std::vector<float>& clipped, std::vector<float>& delta) const {
    const int64_t in = W.cols;
    delta.resize(clipped.size());
    q.fake_quantize(clipped.data(), W.rows, in, importance, delta.data());
    for (int64_t row = 0; row < W.rows; ++row)
      for (int64_t j = 0; j < in; ++j) delta[sz(row * in + j)] = W.data[row * in + j] - delta[sz(row * in + j)] / s[j];
  }

  // The full output loss of the clipped weights on the subsample.
  double loss(const std::vector<float>& clipped) const {
    std::vector<float> delta, scratch;
    weight_error(clipped, delta);
    return output_error(xs, m, W.cols, delta.data(), W.rows, scratch);
  }

  // Per (row, group), the ratio minimising the group's output error e(g, r), r = 1 first.
  std::vector<float> best_ratios() const {
    const int64_t rows = W.rows, in = W.cols, groups = in / cg;
    std::vector<float> ws(W.data, W.data + rows * in);
    for (int64_t row = 0; row < rows; ++row)
      for (int64_t j = 0; j < in; ++j) ws[sz(row * in + j)] *= s[j];
    std::vector<double> best(sz(rows * groups), std::numeric_limits<double>::infinity());
    std::vector<float> ratio(sz(rows * groups), 1.0f), clipped, delta, dg(sz(rows * cg)), e(sz(m * rows));
    for (int i = 0; i < opt.clip_grid; ++i) {
      const float r = opt.clip_grid == 1 ? 1.0f
                                         : 1.0f - static_cast<float>(i) * (1.0f - opt.min_clip) /
                                                      static_cast<float>(opt.clip_grid - 1);
      clipped = ws;
      awq_clip_weights(clipped.data(), rows, in, cg, q.clip_symmetric, std::vector<float>(sz(rows * groups), r));
      weight_error(clipped, delta);
      for (int64_t g = 0; g < groups; ++g) {
        for (int64_t row = 0; row < rows; ++row) std::copy_n(delta.data() + row * in + g * cg, cg, dg.data() + row * cg);
        matmul_f32(dg.data(), cg, rows, xg + g * m * cg, m, e.data());  // m × rows: X_g Δ_gᵀ
        for (int64_t row = 0; row < rows; ++row) {
          double err = 0;
          for (int64_t t = 0; t < m; ++t) err += static_cast<double>(e[sz(t * rows + row)]) * e[sz(t * rows + row)];
          const size_t idx = sz(row * groups + g);
          if (err < best[idx]) {  // strictly better: ties keep the wider range
            best[idx] = err;
            ratio[idx] = r;
          }
        }
      }
    }
    return ratio;
  }
};

}  // namespace

void AwqOptions::validate() const {
  if (alpha_grid < 1) fail("awq: alpha_grid must be ≥ 1, not {}", alpha_grid);
  if (max_rows < 1) fail("awq: max_rows must be ≥ 1, not {}", max_rows);
  if (clip_grid < 1) fail("awq: clip_grid must be ≥ 1, not {}", clip_grid);
  if (!(min_clip > 0.0f && min_clip <= 1.0f)) fail("awq: min_clip must be in (0, 1], not {}", min_clip);
}

AwqQuantizer awq_quantizer(GgmlType type) {
  const QuantCodec* c = codec_for(type);
  if (!c || !c->quantize_row || !c->dequantize_row)
    fail("awq: lowbit cannot both quantize and dequantize {}", ggml_type_name(type));
  const int64_t block = ggml_traits(type).block_size;
  AwqQuantizer q;
  q.name = std::string(ggml_type_name(type));
  q.row_multiple = block;
  q.clip_group = block;  // blocks are quantized independently of each other
  q.clip_symmetric = true;
  q.fake_quantize = [type](const float* w, int64_t rows, int64_t cols, const float* importance, float* out) {
    uint64_t row_bytes = 0;
    if (!ggml_row_bytes(type, static_cast<uint64_t>(cols), &row_bytes))
      fail("awq: {} rows of {} columns are not whole blocks", ggml_type_name(type), cols);
    std::vector<uint8_t> blocks(row_bytes * static_cast<uint64_t>(rows));
    quantize_tensor(type, w, blocks.data(), rows, cols, importance);
    dequantize_tensor(type, blocks.data(), out, rows, cols);
  };
  return q;
}

AwqQuantizer awq_quantizer(const QuantScheme& scheme) {
  scheme.validate();
  AwqQuantizer q;
  q.name = fmt::format("affine_b{}_{}{}_{}", scheme.bits, granularity_name(scheme.granularity),
                       scheme.granularity == Granularity::PerGroup ? fmt::format("{}", scheme.group_size) : "",
                       scheme.symmetric ? "sym" : "asym");
  switch (scheme.granularity) {
    case Granularity::PerGroup: q.row_multiple = q.clip_group = scheme.group_size; break;
    case Granularity::PerChannel: q.row_multiple = 1; q.clip_group = 0; break;
    case Granularity::PerTensor: q.row_multiple = 1; q.clip_group = -1; break;
  }
  q.clip_symmetric = scheme.symmetric;
  q.fake_quantize = [scheme](const float* w, int64_t rows, int64_t cols, const float* importance, float* out) {
    const ScaleSearch search = importance ? ScaleSearch::importance({importance, static_cast<size_t>(cols)})
                                          : ScaleSearch::min_max();
    dequantize_tensor(quantize_tensor(w, rows, cols, scheme, search), out);
  };
  return q;
}

std::vector<float> mean_abs_per_channel(const float* X, int64_t n, int64_t in) {
  if (n < 1 || in < 1) fail("awq: mean |X| of an empty matrix ({} × {})", n, in);
  std::vector<double> acc(sz(in), 0.0);
  for (int64_t t = 0; t < n; ++t)
    for (int64_t j = 0; j < in; ++j) acc[sz(j)] += std::fabs(static_cast<double>(X[t * in + j]));
  std::vector<float> a(sz(in));
  for (int64_t j = 0; j < in; ++j) a[sz(j)] = static_cast<float>(acc[sz(j)] / static_cast<double>(n));
  return a;
}

std::vector<float> awq_scales(std::span<const float> act_mean_abs, float alpha) {
  if (act_mean_abs.empty()) fail("awq: no activation statistics");
  if (!(alpha >= 0.0f && alpha <= 1.0f)) fail("awq: α must be in [0, 1], not {}", alpha);
  std::vector<float> s(act_mean_abs.size());
  float mx = 0, mn = std::numeric_limits<float>::infinity();
  for (size_t j = 0; j < s.size(); ++j) {
    const float a = act_mean_abs[j];
    if (!(std::isfinite(a) && a >= 0.0f)) fail("awq: activation magnitude a[{}] = {} is not finite and ≥ 0", j, a);
    s[j] = std::max(alpha == 0.0f ? 1.0f : std::pow(a, alpha), kMinScale);
    mx = std::max(mx, s[j]);
    mn = std::min(mn, s[j]);
  }
  // Dividing by the geometric mean of the extremes centres s around 1 in log scale, so the
  // scaled weights keep their overall magnitude (llm-awq: scales / (max · min).sqrt()).
  const float norm = static_cast<float>(std::sqrt(static_cast<double>(mx) * mn));
  for (float& v : s) v /= norm;
  return s;
}

double awq_loss(const float* X, int64_t n, int64_t in, std::span<const MatrixView> weights, std::span<const float> scales,
                const AwqQuantizer& quantizer, const float* importance) {
  check_inputs(X, n, in, weights, quantizer);
  if (!scales.empty()) check_channel_scales(scales, in);
  std::vector<float> scaled, deq, delta, scratch;
  double loss = 0;
  for (const MatrixView& W : weights) {
    scaled_error(W, scales.empty() ? nullptr : scales.data(), quantizer, importance, scaled, deq, delta);
    loss += output_error(X, n, in, delta.data(), W.rows, scratch);
  }
  return loss;
}

void awq_clip_weights(float* w, int64_t rows, int64_t cols, int64_t clip_group, bool symmetric,
                      std::span<const float> ratios) {
  if (clip_group < 1 || cols % clip_group != 0) fail("awq: clip group {} does not divide the row length {}", clip_group, cols);
  const int64_t groups = cols / clip_group;
  if (static_cast<int64_t>(ratios.size()) != rows * groups)
    fail("awq: {} clip ratios for {} rows × {} groups", ratios.size(), rows, groups);
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t g = 0; g < groups; ++g) {
      const float ratio = ratios[sz(r * groups + g)];
      if (ratio == 1.0f) continue;  // the full range: clamping would change nothing
      float* p = w + r * cols + g * clip_group;
      float mn = p[0], mx = p[0];
      for (int64_t i = 1; i < clip_group; ++i) {
        mn = std::min(mn, p[i]);
        mx = std::max(mx, p[i]);
      }
      float lo = ratio * mn, hi = ratio * mx;
      if (symmetric) {
        hi = ratio * std::max(std::fabs(mn), std::fabs(mx));
        lo = -hi;
      }
      for (int64_t i = 0; i < clip_group; ++i) p[i] = std::clamp(p[i], lo, hi);
    }
}

AwqResult awq_search(const float* X, int64_t n, int64_t in, std::span<const MatrixView> weights,
                     const AwqQuantizer& quantizer, const AwqOptions& options) {
  options.validate();
  check_inputs(X, n, in, weights, quantizer);
  check_finite(X, n, in, "activation");
  for (const MatrixView& W : weights) check_finite(W.data, W.rows, W.cols, "weight");

  AwqResult res;
  const size_t K = weights.size();

  // Statistics over every row; the searches run on an evenly strided subsample.
  const std::vector<float> a = mean_abs_per_channel(X, n, in);
  std::vector<double> mean_sq(sz(in), 0.0);
  if (options.importance) {
    for (int64_t t = 0; t < n; ++t)
      for (int64_t j = 0; j < in; ++j) mean_sq[sz(j)] += static_cast<double>(X[t * in + j]) * X[t * in + j];
    for (double& v : mean_sq) v /= static_cast<double>(n);
  }
  const int64_t m = std::min(n, options.max_rows);
  std::vector<float> xs(sz(m * in));
  for (int64_t i = 0; i < m; ++i) std::copy_n(X + (i * n / m) * in, in, xs.data() + i * in);
  res.rows_used = m;

  // 1. Scale search over α (eq. 5), s = 1 first.
  std::vector<float> scaled, deq, delta, scratch;
  std::vector<double> best_matrix_loss(K, 0.0), cur(K, 0.0);
  double best = std::numeric_limits<double>::infinity();
  for (int i = 0; i < options.alpha_grid; ++i) {
    const float alpha = static_cast<float>(i) / static_cast<float>(options.alpha_grid);
    const std::vector<float> s = awq_scales(a, alpha);
    const std::vector<float> imp = options.importance ? scaled_importance(mean_sq, s) : std::vector<float>{};
    double loss = 0;
    for (size_t k = 0; k < K; ++k) {
      scaled_error(weights[k], s.data(), quantizer, imp.empty() ? nullptr : imp.data(), scaled, deq, delta);
      cur[k] = output_error(xs.data(), m, in, delta.data(), weights[k].rows, scratch);
      loss += cur[k];
    }
    res.alphas.push_back(alpha);
    res.losses.push_back(loss);
    if (i == 0 || loss < best) {  // strictly better: ties keep the smaller α (α = 0: RTN)
      best = loss;
      res.alpha = alpha;
      res.scales = s;
      best_matrix_loss = cur;
    }
  }
  res.rtn_loss = res.losses[0];
  res.scaled_loss = best;

  const float* s = res.scales.data();
  const std::vector<float> imp = options.importance ? scaled_importance(mean_sq, res.scales) : std::vector<float>{};
  const float* impp = imp.empty() ? nullptr : imp.data();
  res.weights.resize(K);
  for (size_t k = 0; k < K; ++k) {
    const MatrixView& W = weights[k];
    res.weights[k].assign(W.data, W.data + W.rows * in);
    for (int64_t r = 0; r < W.rows; ++r)
      for (int64_t j = 0; j < in; ++j) res.weights[k][sz(r * in + j)] *= s[j];
  }
  res.matrix_losses = best_matrix_loss;
  res.clip_ratios.assign(K, {});
  res.clip_kept.assign(K, false);

  // 2. Clipping search (auto_clip) on the scaled weights, per (row, clip group).
  if (options.clip && quantizer.clip_group >= 0) {
    const int64_t cg = quantizer.clip_group == 0 ? in : quantizer.clip_group;
    const int64_t groups = in / cg;
    // The subsample's columns of each group, contiguous (m × cg per group).
    std::vector<float> xg(sz(m * in));
    for (int64_t g = 0; g < groups; ++g)
      for (int64_t t = 0; t < m; ++t) std::copy_n(xs.data() + t * in + g * cg, cg, xg.data() + (g * m + t) * cg);
    for (size_t k = 0; k < K; ++k) {
      ClipSearch c{weights[k], s, xs.data(), xg.data(), m, cg, quantizer, impp, options};
      std::vector<float> ratio = c.best_ratios();
      std::vector<float> clipped = res.weights[k];
      awq_clip_weights(clipped.data(), weights[k].rows, in, cg, quantizer.clip_symmetric, ratio);
      // The per-group choices combine (groups are quantized independently); keep them only
      // if the matrix's full output loss did not rise (cross-group terms are not searched).
      const double loss = c.loss(clipped);
      if (loss <= best_matrix_loss[k]) {  // the unclipped loss, from the α search
        res.weights[k] = std::move(clipped);
        res.clip_ratios[k] = std::move(ratio);
        res.clip_kept[k] = true;
        res.matrix_losses[k] = loss;
      }
    }
  }
  res.final_loss = 0;
  for (double l : res.matrix_losses) res.final_loss += l;
  return res;
}

}  // namespace lowbit
