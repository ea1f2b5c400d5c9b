#include "quant/linear/quantized_tensor.h"

#include <cmath>

#include "core/error.h"

namespace lowbit {

namespace {
// Below this many elements a tensor is done on the calling thread: starting an OpenMP team
// costs more than it saves (and much more on an oversubscribed machine).
constexpr uint64_t kParallelMinElements = uint64_t{1} << 15;
}  // namespace

int64_t QuantizedTensor::group_index(int64_t r, int64_t c) const {
  switch (scheme.granularity) {
    case Granularity::PerTensor: return 0;
    case Granularity::PerChannel: return r;
    case Granularity::PerGroup: return r * (cols / scheme.group_size) + c / scheme.group_size;
  }
  return 0;
}

void QuantizedTensor::validate() const {
  if (rows < 0 || cols < 0) fail("quantized tensor: negative shape {} x {}", rows, cols);
  scheme.validate_for(cols);
  uint64_t n = 0;
  if (mul_overflows(static_cast<uint64_t>(rows), static_cast<uint64_t>(cols), &n) || codes.size() != n)
    fail("quantized tensor: {} codes for a {} x {} tensor", codes.size(), rows, cols);
  const size_t groups = static_cast<size_t>(scheme.group_count(rows, cols));
  if (scales.size() != groups || zeros.size() != groups)
    fail("quantized tensor: {} scales and {} zeros, but {} {} groups of a {} x {} tensor", scales.size(), zeros.size(),
         groups, granularity_name(scheme.granularity), rows, cols);
  const int32_t qmin = scheme.qmin(), qmax = scheme.qmax();
  for (size_t g = 0; g < groups; ++g) {
    if (!(scales[g] > 0.0f) || !std::isfinite(scales[g])) fail("quantized tensor: group {}: scale {} is not positive and finite", g, scales[g]);
    if (zeros[g] < qmin || zeros[g] > qmax) fail("quantized tensor: group {}: zero point {} is outside [{}, {}]", g, zeros[g], qmin, qmax);
    if (scheme.symmetric && zeros[g] != 0) fail("quantized tensor: group {}: symmetric scheme with zero point {}", g, zeros[g]);
  }
  const int32_t max_code = qmax - qmin;
  for (size_t i = 0; i < codes.size(); ++i)
    if (codes[i] > max_code)
      fail("quantized tensor: row {}, column {}: code {} exceeds {} for {} bits", static_cast<int64_t>(i) / cols,
           static_cast<int64_t>(i) % cols, codes[i], max_code, scheme.bits);
}

QuantizedTensor quantize_tensor(const float* x, int64_t rows, int64_t cols, const QuantScheme& scheme,
                                const ScaleSearch& search) {
  if (rows < 0 || cols < 0) fail("quantize_tensor: negative shape {} x {}", rows, cols);
  scheme.validate_for(cols);
  uint64_t n = 0;
  if (mul_overflows(static_cast<uint64_t>(rows), static_cast<uint64_t>(cols), &n) || n > (uint64_t{1} << 62))
    fail("quantize_tensor: {} x {} elements is too many", rows, cols);
  search.validate_for(rows, cols);
  if (n > 0 && !x) fail("quantize_tensor: null data for a {} x {} tensor", rows, cols);
  // Check every element before the parallel part (an exception must not leave an OpenMP region).
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t c = 0; c < cols; ++c)
      if (!std::isfinite(x[r * cols + c]))
        fail("quantize_tensor: non-finite value {} at row {}, column {} (element {})", x[r * cols + c], r, c, r * cols + c);

  QuantizedTensor t;
  t.rows = rows;
  t.cols = cols;
  t.scheme = scheme;
  t.codes.resize(static_cast<size_t>(n));
  const int64_t groups = scheme.group_count(rows, cols);
  t.scales.resize(static_cast<size_t>(groups));
  t.zeros.resize(static_cast<size_t>(groups));
  std::vector<double> errors(static_cast<size_t>(groups));
  const bool parallel = n >= kParallelMinElements;

  // MinMax is the one-candidate grid: the same code path, so ClipSearch (whose grid starts at
  // α = 1) can never report a larger error than MinMax.
  const ClipGrid grid = search.method == ScaleMethod::MinMax ? ClipGrid{1, 1.0f} : search.grid;
  const float* w = search.weights.empty() ? nullptr : search.weights.data();
  const int64_t w_stride = search.method == ScaleMethod::Importance ? 0 : cols;
  const int32_t qmin = scheme.qmin(), qmax = scheme.qmax();
  const int64_t per_row = scheme.granularity == Granularity::PerGroup ? cols / scheme.group_size : 1;
  const int64_t gsize = scheme.elements_per_group(cols);

  // Group g covers rows [r0, r0 + nrows) and columns [c0, c0 + ncols).
  auto block_of = [&](int64_t g) {
    detail::Block b;
    int64_t r0 = 0, c0 = 0;
    if (scheme.granularity == Granularity::PerTensor) {
      b.rows = rows;
    } else {
      r0 = g / per_row;
      c0 = (g % per_row) * gsize;
      b.rows = 1;
    }
    b.cols = gsize;
    b.x = x + r0 * cols + c0;
    b.x_stride = cols;
    b.w = w ? (w_stride ? w + r0 * cols + c0 : w + c0) : nullptr;
    b.w_stride = w_stride;
    return b;
  };
  auto encode = [&](const detail::Block& b, AffineParams p) {
    const int64_t off = b.x - x;
    for (int64_t r = 0; r < b.rows; ++r)
      for (int64_t c = 0; c < b.cols; ++c)
        t.codes[static_cast<size_t>(off + r * cols + c)] =
            static_cast<uint8_t>(quantize_value(b.x[r * cols + c], p, qmin, qmax) - qmin);
  };

  if (scheme.granularity == Granularity::PerTensor) {
    const detail::Block b = block_of(0);
    const ScaleChoice ch = detail::search_block(b, scheme, grid, /*parallel_rows=*/parallel);
    t.scales[0] = ch.params.scale;
    t.zeros[0] = ch.params.zero;
    errors[0] = ch.error;
#pragma omp parallel for schedule(static) if (parallel)
    for (int64_t r = 0; r < rows; ++r) {
      detail::Block row = b;
      row.x = b.x + r * cols;
      row.rows = 1;
      encode(row, ch.params);
    }
  } else {
#pragma omp parallel for schedule(dynamic, 16) if (parallel)
    for (int64_t g = 0; g < groups; ++g) {
      const detail::Block b = block_of(g);
      const ScaleChoice ch = detail::search_block(b, scheme, grid, /*parallel_rows=*/false);
      t.scales[static_cast<size_t>(g)] = ch.params.scale;
      t.zeros[static_cast<size_t>(g)] = ch.params.zero;
      errors[static_cast<size_t>(g)] = ch.error;
      encode(b, ch.params);
    }
  }
  for (double e : errors) t.error += e;  // in group order: independent of the thread count
  return t;
}

void dequantize_tensor(const QuantizedTensor& t, float* out) {
  t.validate();
  if (t.codes.empty()) return;
  if (!out) fail("dequantize_tensor: null output for a {} x {} tensor", t.rows, t.cols);
  const int32_t qmin = t.scheme.qmin();
#pragma omp parallel for schedule(static) if (t.codes.size() >= kParallelMinElements)
  for (int64_t r = 0; r < t.rows; ++r)
    for (int64_t c = 0; c < t.cols; ++c) {
      const size_t i = static_cast<size_t>(r * t.cols + c);
      out[i] = dequantize_value(t.codes[i] + qmin, t.params(t.group_index(r, c)));
    }
}

std::vector<float> dequantize_tensor(const QuantizedTensor& t) {
  std::vector<float> out(t.codes.size());
  dequantize_tensor(t, out.data());
  return out;
}

}  // namespace lowbit
