#include "quant/linear/scale_search.h"

#include <algorithm>
#include <cmath>
#include <vector>

#include "core/error.h"

namespace lowbit {

void ClipGrid::validate() const {
  if (points < 1) fail("clip grid: points = {} (need at least 1)", points);
  if (!(min_ratio > 0.0f && min_ratio <= 1.0f)) fail("clip grid: min_ratio = {} is outside (0, 1]", min_ratio);
}

float ClipGrid::ratio(int k) const {
  if (points <= 1 || k == 0) return 1.0f;
  return static_cast<float>(1.0 - static_cast<double>(k) * (1.0 - min_ratio) / (points - 1));
}

const char* scale_method_name(ScaleMethod m) {
  switch (m) {
    case ScaleMethod::MinMax: return "minmax";
    case ScaleMethod::ClipSearch: return "clip";
    case ScaleMethod::Importance: return "importance";
  }
  return "?";
}

namespace {

void check_weights(std::span<const float> w, const char* what) {
  for (size_t i = 0; i < w.size(); ++i)
    if (!std::isfinite(w[i]) || w[i] < 0.0f) fail("{}: weight {} is {} (weights must be finite and >= 0)", what, i, w[i]);
}

// Σ w (x − x̂)² over one row of a block. The hot loop of every search: x̂ via
// fake_quantize_value (no integer detour), squares summed in double into 8 interleaved
// accumulators — a fixed order, so deterministic, but not one serial add chain whose
// latency would bound the loop.
double row_error(const float* x, const float* w, int64_t n, AffineParams p, int32_t qmin, int32_t qmax) {
  constexpr int kLanes = 8;
  double acc[kLanes] = {};
  int64_t i = 0;
  if (w) {
    for (; i + kLanes <= n; i += kLanes)
      for (int j = 0; j < kLanes; ++j) {
        const double d = static_cast<double>(x[i + j]) - fake_quantize_value(x[i + j], p, qmin, qmax);
        acc[j] += static_cast<double>(w[i + j]) * d * d;
      }
    for (; i < n; ++i) {
      const double d = static_cast<double>(x[i]) - fake_quantize_value(x[i], p, qmin, qmax);
      acc[0] += static_cast<double>(w[i]) * d * d;
    }
  } else {
    for (; i + kLanes <= n; i += kLanes)
      for (int j = 0; j < kLanes; ++j) {
        const double d = static_cast<double>(x[i + j]) - fake_quantize_value(x[i + j], p, qmin, qmax);
        acc[j] += d * d;
      }
    for (; i < n; ++i) {
      const double d = static_cast<double>(x[i]) - fake_quantize_value(x[i], p, qmin, qmax);
      acc[0] += d * d;
    }
  }
  double e = 0.0;
  for (double a : acc) e += a;
  return e;
}

}  // namespace

namespace detail {

ScaleChoice search_block(const Block& b, const QuantScheme& scheme, const ClipGrid& grid, bool parallel_rows) {
  const int32_t qmin = scheme.qmin(), qmax = scheme.qmax();
  float lo = 0.0f, hi = 0.0f;
  if (b.rows > 0 && b.cols > 0) lo = hi = b.x[0];
  for (int64_t r = 0; r < b.rows; ++r) {
    const float* x = b.x + r * b.x_stride;
    for (int64_t c = 0; c < b.cols; ++c) {
      lo = std::min(lo, x[c]);
      hi = std::max(hi, x[c]);
    }
  }

  std::vector<double> row_errs(parallel_rows ? static_cast<size_t>(b.rows) : 0);
  auto error_of = [&](AffineParams p) {
    auto row = [&](int64_t r) {
      return row_error(b.x + r * b.x_stride, b.w ? b.w + r * b.w_stride : nullptr, b.cols, p, qmin, qmax);
    };
    double e = 0.0;
    if (parallel_rows) {
      // Rows in parallel, summed in row order: the same total as the serial branch, for any
      // thread count.
#pragma omp parallel for schedule(static)
      for (int64_t r = 0; r < b.rows; ++r) row_errs[static_cast<size_t>(r)] = row(r);
      for (double re : row_errs) e += re;
    } else {
      for (int64_t r = 0; r < b.rows; ++r) e += row(r);
    }
    return e;
  };

  ScaleChoice best;
  best.params = affine_params(lo, hi, scheme);
  best.clip_ratio = 1.0f;
  best.error = error_of(best.params);
  AffineParams prev = best.params;
  for (int k = 1; k < grid.points; ++k) {
    const float a = grid.ratio(k);
    // [α·min, α·max] shrinks toward 0 and keeps 0 inside: zero stays exact (header).
    const AffineParams p = affine_params(a * lo, a * hi, scheme);
    if (p.scale == prev.scale && p.zero == prev.zero) continue;  // same grid as the last candidate
    prev = p;
    const double e = error_of(p);
    if (e < best.error) best = {p, a, e};  // strictly better only: ties keep the wider range
  }
  return best;
}

}  // namespace detail

namespace {

detail::Block span_block(std::span<const float> x, std::span<const float> w, const char* what) {
  if (!w.empty() && w.size() != x.size())
    fail("{}: {} weights for {} values (need one per value, or none)", what, w.size(), x.size());
  float lo, hi;
  try {
    finite_min_max(x, &lo, &hi);
  } catch (const Error& e) {
    fail("{}: {}", what, e.what());
  }
  check_weights(w, what);
  detail::Block b;
  b.x = x.data();
  b.rows = x.empty() ? 0 : 1;
  b.cols = static_cast<int64_t>(x.size());
  b.x_stride = b.cols;
  b.w = w.empty() ? nullptr : w.data();
  b.w_stride = b.cols;
  return b;
}

}  // namespace

ScaleChoice search_scale(std::span<const float> x, std::span<const float> weights, const QuantScheme& scheme,
                         const ClipGrid& grid) {
  scheme.validate();
  grid.validate();
  return detail::search_block(span_block(x, weights, "search_scale"), scheme, grid, false);
}

ScaleChoice minmax_scale(std::span<const float> x, std::span<const float> weights, const QuantScheme& scheme) {
  scheme.validate();
  return detail::search_block(span_block(x, weights, "minmax_scale"), scheme, ClipGrid{1, 1.0f}, false);
}

double quant_error(std::span<const float> x, std::span<const float> weights, AffineParams p, const QuantScheme& scheme) {
  scheme.validate();
  const detail::Block b = span_block(x, weights, "quant_error");
  if (b.rows == 0) return 0.0;
  return row_error(b.x, b.w, b.cols, p, scheme.qmin(), scheme.qmax());
}

void ScaleSearch::validate_for(int64_t rows, int64_t cols) const {
  grid.validate();
  const char* what = scale_method_name(method);
  if (method == ScaleMethod::Importance) {
    if (weights.size() != static_cast<size_t>(cols))
      fail("scale search '{}': {} column weights for {} columns (need one per input column)", what, weights.size(), cols);
  } else if (!weights.empty() && weights.size() != static_cast<size_t>(rows * cols)) {
    fail("scale search '{}': {} element weights for a {} x {} tensor (need rows*cols = {}, or none)", what,
         weights.size(), rows, cols, rows * cols);
  }
  for (size_t i = 0; i < weights.size(); ++i) {
    const float w = weights[i];
    if (std::isfinite(w) && w >= 0.0f) continue;
    if (method == ScaleMethod::Importance) fail("scale search '{}': weight of column {} is {} (must be finite and >= 0)", what, i, w);
    const int64_t r = static_cast<int64_t>(i) / cols, c = static_cast<int64_t>(i) % cols;
    fail("scale search '{}': weight at row {}, column {} is {} (must be finite and >= 0)", what, r, c, w);
  }
}

}  // namespace lowbit
