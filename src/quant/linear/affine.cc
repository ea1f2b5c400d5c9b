#include "quant/linear/affine.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include "core/error.h"
#include "core/half.h"

namespace lowbit {

const char* granularity_name(Granularity g) {
  switch (g) {
    case Granularity::PerTensor: return "per_tensor";
    case Granularity::PerChannel: return "per_channel";
    case Granularity::PerGroup: return "per_group";
  }
  return "?";
}

QuantScheme QuantScheme::per_tensor(int bits, bool symmetric) {
  QuantScheme s;
  s.bits = bits;
  s.symmetric = symmetric;
  s.granularity = Granularity::PerTensor;
  return s;
}

QuantScheme QuantScheme::per_channel(int bits, bool symmetric) {
  QuantScheme s = per_tensor(bits, symmetric);
  s.granularity = Granularity::PerChannel;
  return s;
}

QuantScheme QuantScheme::per_group(int bits, int64_t group_size, bool symmetric) {
  QuantScheme s = per_tensor(bits, symmetric);
  s.granularity = Granularity::PerGroup;
  s.group_size = group_size;
  return s;
}

int32_t QuantScheme::qmin() const {
  if (!symmetric) return 0;
  const int32_t half = 1 << (bits - 1);
  return restricted_range ? -(half - 1) : -half;
}

int32_t QuantScheme::qmax() const {
  return symmetric ? (1 << (bits - 1)) - 1 : (1 << bits) - 1;
}

void QuantScheme::validate() const {
  if (bits < kMinQuantBits || bits > kMaxQuantBits)
    fail("quant scheme: bits = {} is outside {}..{}", bits, kMinQuantBits, kMaxQuantBits);
  if (restricted_range && !symmetric)
    fail("quant scheme: restricted_range applies to symmetric schemes only (asymmetric codes are [0, 2^bits - 1])");
  if (zero_at_least_one && symmetric)
    fail("quant scheme: zero_at_least_one applies to asymmetric schemes only (symmetric zero points are 0)");
  if (granularity == Granularity::PerGroup) {
    if (group_size <= 0) fail("quant scheme: per_group needs group_size > 0 (got {})", group_size);
  } else if (group_size != 0) {
    fail("quant scheme: group_size = {} is set but granularity is {} (use per_group)", group_size,
         granularity_name(granularity));
  }
}

void QuantScheme::validate_for(int64_t cols) const {
  validate();
  if (cols < 0) fail("quant scheme: negative row length {}", cols);
  if (granularity == Granularity::PerGroup && cols % group_size != 0)
    fail("quant scheme: group_size {} does not divide the row length {}", group_size, cols);
}

int64_t QuantScheme::elements_per_group(int64_t cols) const {
  return granularity == Granularity::PerGroup ? group_size : cols;
}

int64_t QuantScheme::group_count(int64_t rows, int64_t cols) const {
  switch (granularity) {
    case Granularity::PerTensor: return 1;
    case Granularity::PerChannel: return rows;
    case Granularity::PerGroup: return rows * (cols / group_size);
  }
  return 0;
}

AffineParams affine_params(float min, float max, const QuantScheme& scheme) {
  scheme.validate();
  if (!std::isfinite(min) || !std::isfinite(max)) fail("affine_params: non-finite range [{}, {}]", min, max);
  if (min > max) fail("affine_params: min {} > max {}", min, max);
  // Widen to contain 0 so zero is a grid point (see the header).
  const double lo = std::min(min, 0.0f), hi = std::max(max, 0.0f);
  const double qmin = scheme.qmin(), qmax = scheme.qmax();
  constexpr double kMinScale = std::numeric_limits<float>::min();
  // A double scale near FLT_MAX could round up past it; the largest finite float still
  // covers the (finite) range up to rounding.
  auto to_scale = [&](double s) {
    float f = static_cast<float>(std::max(s, kMinScale));
    if (!std::isfinite(f)) f = std::numeric_limits<float>::max();
    return scheme.f16_scale ? f16_round_up(f) : f;
  };
  AffineParams p;
  if (scheme.symmetric) {
    // Smallest s with s·qmin ≤ lo and hi ≤ s·qmax (qmin < 0 < qmax). Doubles: no overflow.
    p.scale = to_scale(std::max(hi / qmax, lo / qmin));
    p.zero = 0;
  } else {
    // s = (hi − lo)/(qmax − qmin); the real zero point z* = qmin − lo/s lies in [qmin, qmax]
    // because lo ≤ 0 ≤ hi, so rounding it stays in range (the clamp guards float edge cases).
    p.scale = to_scale((hi - lo) / (qmax - qmin));
    const double z = std::nearbyint(qmin - lo / static_cast<double>(p.scale));
    p.zero = static_cast<int32_t>(std::clamp(z, qmin, qmax));
    if (scheme.zero_at_least_one && p.zero < 1) {
      p.scale = to_scale(std::max(hi / (qmax - 1), -lo));
      p.zero = 1;
    }
  }
  return p;
}

float f16_round_up(float x) {
  constexpr uint16_t kMaxF16 = 0x7bff;   // 65504
  if (!(x < 65504.0f)) return f16_to_f32(kMaxF16);
  uint16_t h = f32_to_f16(x);            // nearest (x > 0: a non-negative half)
  if (f16_to_f32(h) < x) ++h;            // the next half up: positive halves order as integers
  return f16_to_f32(h);
}

void finite_min_max(std::span<const float> x, float* min, float* max) {
  float lo = 0.0f, hi = 0.0f;
  if (!x.empty()) lo = hi = x[0];
  for (size_t i = 0; i < x.size(); ++i) {
    const float v = x[i];
    if (!std::isfinite(v)) fail("element {}: non-finite value {}", i, v);
    lo = std::min(lo, v);
    hi = std::max(hi, v);
  }
  *min = lo;
  *max = hi;
}

void quantize_span(std::span<const float> x, AffineParams p, const QuantScheme& scheme, std::span<uint8_t> codes) {
  scheme.validate();
  if (codes.size() != x.size()) fail("quantize_span: {} values but room for {} codes", x.size(), codes.size());
  if (!(p.scale > 0.0f) || !std::isfinite(p.scale)) fail("quantize_span: scale {} is not positive and finite", p.scale);
  const int32_t qmin = scheme.qmin(), qmax = scheme.qmax();
  if (p.zero < qmin || p.zero > qmax) fail("quantize_span: zero point {} is outside [{}, {}]", p.zero, qmin, qmax);
  for (size_t i = 0; i < x.size(); ++i) {
    if (!std::isfinite(x[i])) fail("quantize_span: element {}: non-finite value {}", i, x[i]);
    codes[i] = static_cast<uint8_t>(quantize_value(x[i], p, qmin, qmax) - qmin);
  }
}

void dequantize_span(std::span<const uint8_t> codes, AffineParams p, const QuantScheme& scheme, std::span<float> out) {
  scheme.validate();
  if (codes.size() != out.size()) fail("dequantize_span: {} codes but room for {} values", codes.size(), out.size());
  const int32_t qmin = scheme.qmin(), max_code = scheme.qmax() - qmin;
  for (size_t i = 0; i < codes.size(); ++i) {
    if (codes[i] > max_code) fail("dequantize_span: code {} at element {} exceeds {} for {} bits", codes[i], i, max_code, scheme.bits);
    out[i] = dequantize_value(codes[i] + qmin, p);
  }
}

}  // namespace lowbit
