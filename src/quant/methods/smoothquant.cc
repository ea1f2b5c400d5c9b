#include "quant/methods/smoothquant.h"

#include <algorithm>
#include <cmath>

#include "core/error.h"
#include "kernels/int8_gemm.h"
#include "quant/linear/affine.h"

namespace lowbit {
namespace {

size_t sz(int64_t v) { return static_cast<size_t>(v); }

// Symmetric 8-bit with the code −128 dropped: scale = max|x| / 127 (affine.h).
QuantScheme int8_scheme() {
  QuantScheme s = QuantScheme::per_channel(8, true);
  s.restricted_range = true;
  return s;
}

void check_shape(const float* p, int64_t rows, int64_t cols, const char* what) {
  if (rows < 0 || cols < 0 || (rows * cols > 0 && !p)) fail("smoothquant: bad {} matrix ({} × {})", what, rows, cols);
}

float row_absmax(const float* x, int64_t cols, int64_t row, const char* what) {
  float m = 0;
  for (int64_t c = 0; c < cols; ++c) {
    if (!std::isfinite(x[c])) fail("smoothquant: {} element (row {}, column {}) is {}", what, row, c, x[c]);
    m = std::max(m, std::fabs(x[c]));
  }
  return m;
}

// Codes of one row with params p into q (every x finite).
void quantize_row_int8(const float* x, int64_t cols, AffineParams p, int8_t* q) {
  for (int64_t c = 0; c < cols; ++c) q[c] = static_cast<int8_t>(quantize_offset(x[c], p.scale, -127.0f, 127.0f));
}

}  // namespace

std::vector<float> channel_absmax(const float* X, int64_t n, int64_t in) {
  check_shape(X, n, in, "activation");
  std::vector<float> m(sz(in), 0.0f);
  for (int64_t t = 0; t < n; ++t)
    for (int64_t j = 0; j < in; ++j) {
      const float v = X[t * in + j];
      if (!std::isfinite(v)) fail("smoothquant: activation element (row {}, column {}) is {}", t, j, v);
      m[sz(j)] = std::max(m[sz(j)], std::fabs(v));
    }
  return m;
}

std::vector<float> smooth_scales(std::span<const float> act_absmax, std::span<const MatrixView> weights, float alpha) {
  if (!(alpha >= 0.0f && alpha <= 1.0f)) fail("smoothquant: migration strength α must be in [0, 1], not {}", alpha);
  const int64_t in = static_cast<int64_t>(act_absmax.size());
  if (in == 0) fail("smoothquant: no activation statistics");
  if (weights.empty()) fail("smoothquant: no weight matrices");
  std::vector<float> wmax(sz(in), 0.0f);
  for (size_t k = 0; k < weights.size(); ++k) {
    const MatrixView& W = weights[k];
    if (!W.data || W.rows < 1 || W.cols != in)
      fail("smoothquant: weight matrix {} is {} × {}, the activations have {} channels", k, W.rows, W.cols, in);
    for (int64_t o = 0; o < W.rows; ++o)
      for (int64_t j = 0; j < in; ++j) {
        const float v = W.data[o * in + j];
        if (!std::isfinite(v)) fail("smoothquant: weight matrix {} element (row {}, column {}) is {}", k, o, j, v);
        wmax[sz(j)] = std::max(wmax[sz(j)], std::fabs(v));
      }
  }
  std::vector<float> s(sz(in), 1.0f);
  for (int64_t j = 0; j < in; ++j) {
    const float a = act_absmax[sz(j)];
    if (!(std::isfinite(a) && a >= 0.0f)) fail("smoothquant: activation max of channel {} is {}", j, a);
    const float w = wmax[sz(j)];
    if (a == 0.0f || w == 0.0f) continue;  // nothing to migrate
    const double v = std::pow(static_cast<double>(a), alpha) / std::pow(static_cast<double>(w), 1.0 - alpha);
    // Keep s a normal float within a sane range so neither side over- or underflows.
    s[sz(j)] = static_cast<float>(std::clamp(v, 1e-5, 1e5));
  }
  return s;
}

Int8Weights quantize_weights_int8_per_channel(const float* W, int64_t rows, int64_t cols) {
  check_shape(W, rows, cols, "weight");
  Int8Weights r;
  r.rows = rows;
  r.cols = cols;
  r.q.resize(sz(rows * cols));
  r.scales.resize(sz(rows));
  const QuantScheme scheme = int8_scheme();
  for (int64_t o = 0; o < rows; ++o) {
    const float m = row_absmax(W + o * cols, cols, o, "weight");
    const AffineParams p = affine_params(-m, m, scheme);
    r.scales[sz(o)] = p.scale;
    quantize_row_int8(W + o * cols, cols, p, r.q.data() + o * cols);
  }
  return r;
}

Int8Activations quantize_activations_int8_per_token(const float* X, int64_t rows, int64_t cols) {
  check_shape(X, rows, cols, "activation");
  Int8Activations r;
  r.rows = rows;
  r.cols = cols;
  r.per_token = true;
  r.q.resize(sz(rows * cols));
  r.scales.resize(sz(rows));
  const QuantScheme scheme = int8_scheme();
  for (int64_t t = 0; t < rows; ++t) {
    const float m = row_absmax(X + t * cols, cols, t, "activation");
    const AffineParams p = affine_params(-m, m, scheme);
    r.scales[sz(t)] = p.scale;
    quantize_row_int8(X + t * cols, cols, p, r.q.data() + t * cols);
  }
  return r;
}

Int8Activations quantize_activations_int8_per_tensor(const float* X, int64_t rows, int64_t cols, float range_min,
                                                     float range_max) {
  check_shape(X, rows, cols, "activation");
  if (!(std::isfinite(range_min) && std::isfinite(range_max) && range_min <= range_max))
    fail("smoothquant: static activation range [{}, {}] is not a finite interval", range_min, range_max);
  const AffineParams p = affine_params(range_min, range_max, int8_scheme());
  Int8Activations r;
  r.rows = rows;
  r.cols = cols;
  r.per_token = false;
  r.q.resize(sz(rows * cols));
  r.scales = {p.scale};
  for (int64_t t = 0; t < rows; ++t) {
    row_absmax(X + t * cols, cols, t, "activation");  // finiteness check
    quantize_row_int8(X + t * cols, cols, p, r.q.data() + t * cols);
  }
  return r;
}

void w8a8_linear(const Int8Activations& x, const Int8Weights& w, float* y) {
  if (x.cols != w.cols) fail("w8a8_linear: activations have {} columns, weights {}", x.cols, w.cols);
  if (x.q.size() != sz(x.rows * x.cols) || x.scales.size() != sz(x.per_token ? x.rows : 1))
    fail("w8a8_linear: inconsistent int8 activations ({} × {}, {} codes, {} scales)", x.rows, x.cols, x.q.size(),
         x.scales.size());
  if (w.q.size() != sz(w.rows * w.cols) || w.scales.size() != sz(w.rows))
    fail("w8a8_linear: inconsistent int8 weights ({} × {}, {} codes, {} scales)", w.rows, w.cols, w.q.size(),
         w.scales.size());
  gemm_s8s8_f32(x.rows, w.rows, w.cols, x.q.data(), x.scales.data(), x.per_token ? 1 : 0, w.q.data(), w.scales.data(), y);
}

void w8a8_linear(const float* X, int64_t T, const Int8Weights& w, const ActivationQuant& act, float* y) {
  const Int8Activations xq = act.per_token
                                 ? quantize_activations_int8_per_token(X, T, w.cols)
                                 : quantize_activations_int8_per_tensor(X, T, w.cols, act.range_min, act.range_max);
  w8a8_linear(xq, w, y);
}

}  // namespace lowbit
