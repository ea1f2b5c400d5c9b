// The plain float rows: F32 (a copy), F16 and BF16 (round to nearest even, like ggml's
// GGML_FP32_TO_FP16 / GGML_FP32_TO_BF16; NaN stays NaN).
#include <cstring>

#include "core/half.h"
#include "quant/codecs/codec.h"

namespace lowbit {

void quantize_row_f32(const float* x, void* y, int64_t n, const float* /*importance*/) {
  std::memcpy(y, x, static_cast<size_t>(n) * sizeof(float));
}

void dequantize_row_f32(const void* x, float* y, int64_t n) {
  std::memcpy(y, x, static_cast<size_t>(n) * sizeof(float));
}

void quantize_row_f16(const float* x, void* vy, int64_t n, const float* /*importance*/) {
  auto* y = static_cast<uint16_t*>(vy);
  for (int64_t i = 0; i < n; ++i) y[i] = f32_to_f16(x[i]);
}

void dequantize_row_f16(const void* vx, float* y, int64_t n) {
  const auto* x = static_cast<const uint16_t*>(vx);
  for (int64_t i = 0; i < n; ++i) y[i] = f16_to_f32(x[i]);
}

void quantize_row_bf16(const float* x, void* vy, int64_t n, const float* /*importance*/) {
  auto* y = static_cast<uint16_t*>(vy);
  for (int64_t i = 0; i < n; ++i) y[i] = f32_to_bf16(x[i]);
}

void dequantize_row_bf16(const void* vx, float* y, int64_t n) {
  const auto* x = static_cast<const uint16_t*>(vx);
  for (int64_t i = 0; i < n; ++i) y[i] = bf16_to_f32(x[i]);
}

}  // namespace lowbit
