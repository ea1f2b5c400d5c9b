// Helpers shared by the codec tests: seeded test data of several shapes and round trips.
#pragma once

#include <cmath>
#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include "core/ggml_type.h"
#include "quant/codecs/codec.h"

namespace lowbit::testing {

// The kinds of rows the round-trip properties run over.
enum class RowKind { Normal, HeavyTailed, Zeros, Constant, NegConstant, Outlier, Tiny, Tinier };
inline constexpr RowKind kAllRowKinds[] = {RowKind::Normal,   RowKind::HeavyTailed, RowKind::Zeros,
                                           RowKind::Constant, RowKind::NegConstant, RowKind::Outlier,
                                           RowKind::Tiny,     RowKind::Tinier};

inline const char* row_kind_name(RowKind k) {
  switch (k) {
    case RowKind::Normal: return "normal";
    case RowKind::HeavyTailed: return "heavy-tailed";
    case RowKind::Zeros: return "zeros";
    case RowKind::Constant: return "constant";
    case RowKind::NegConstant: return "negative-constant";
    case RowKind::Outlier: return "single-outlier";
    case RowKind::Tiny: return "tiny (1e-5, f16-subnormal scales)";
    case RowKind::Tinier: return "tinier (1e-7, below f16's smallest scales)";
  }
  return "?";
}

// A row of n values of the given kind. Heavy-tailed: Student t with 3 degrees of freedom times
// a log-normal per-row scale (like the fixtures' weights). Outlier: normal with one element
// 500x the rest, sign and position drawn.
inline std::vector<float> make_row(RowKind kind, int64_t n, std::mt19937& rng) {
  std::normal_distribution<float> normal(0.f, 1.f);
  std::vector<float> x(n);
  switch (kind) {
    case RowKind::Normal:
      for (auto& v : x) v = normal(rng);
      break;
    case RowKind::HeavyTailed: {
      std::student_t_distribution<float> t3(3.f);
      const float scale = std::exp(0.5f * normal(rng)) * 0.02f;
      for (auto& v : x) v = t3(rng) * scale;
      break;
    }
    case RowKind::Zeros:
      break;
    case RowKind::Constant:
      for (auto& v : x) v = 0.37f;
      break;
    case RowKind::NegConstant:
      for (auto& v : x) v = -2.5f;
      break;
    case RowKind::Outlier: {
      for (auto& v : x) v = normal(rng);
      std::uniform_int_distribution<int64_t> pos(0, n - 1);
      x[pos(rng)] = (rng() & 1 ? 500.f : -500.f);
      break;
    }
    case RowKind::Tiny:
      for (auto& v : x) v = normal(rng) * 1e-5f;
      break;
    case RowKind::Tinier:
      for (auto& v : x) v = normal(rng) * 1e-7f;
      break;
  }
  return x;
}

inline uint64_t row_bytes(GgmlType t, int64_t n) {
  uint64_t b = 0;
  ggml_row_bytes(t, static_cast<uint64_t>(n), &b);
  return b;
}

inline std::vector<uint8_t> quantize(GgmlType t, const std::vector<float>& x, const float* importance = nullptr) {
  std::vector<uint8_t> q(row_bytes(t, static_cast<int64_t>(x.size())));
  codec_for(t)->quantize_row(x.data(), q.data(), static_cast<int64_t>(x.size()), importance);
  return q;
}

inline std::vector<float> dequantize(GgmlType t, const std::vector<uint8_t>& q, int64_t n) {
  std::vector<float> y(n);
  codec_for(t)->dequantize_row(q.data(), y.data(), n);
  return y;
}

inline std::vector<float> round_trip(GgmlType t, const std::vector<float>& x, const float* importance = nullptr) {
  return dequantize(t, quantize(t, x, importance), static_cast<int64_t>(x.size()));
}

inline std::string type_name(GgmlType t) { return std::string(ggml_type_name(t)); }

}  // namespace lowbit::testing
