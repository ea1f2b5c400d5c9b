// The 8-bit formats: Q8_0 (a weight format), Q8_1 and Q8_K (the activation formats the
// integer dot products pair with Q4_1/Q5_1 and the K-quants). See blocks.h for the layouts.
#include <algorithm>
#include <cmath>
#include <cstring>

#include "core/half.h"
#include "quant/codecs/blocks.h"
#include "quant/codecs/codec.h"
#include "quant/codecs/scale_search.h"

namespace lowbit {
namespace {

// d = amax / 127 and q = round(x / d) (half away from zero, C's roundf) for one block of 32.
// Returns the scale; writes codes to qs.
float quantize_block_8bit(const float* x, int8_t* qs) {
  float amax = 0.0f;
  for (int j = 0; j < kQK32; ++j) amax = std::max(amax, std::fabs(x[j]));
  const float d = amax / 127;
  const float id = d != 0 ? 1.0f / d : 0.0f;
  for (int j = 0; j < kQK32; ++j) qs[j] = round_code_int8(x[j] * id);
  return d;
}

}  // namespace

// Q8_0 has no importance-weighted variant in ggml: 8 bits leave little to search.
void quantize_row_q8_0(const float* x, void* vy, int64_t n, const float* /*importance*/) {
  auto* y = static_cast<BlockQ8_0*>(vy);
  for (int64_t i = 0; i < n / kQK32; ++i) y[i].d = f32_to_f16(quantize_block_8bit(x + i * kQK32, y[i].qs));
}

void dequantize_row_q8_0(const void* vx, float* y, int64_t n) {
  const auto* x = static_cast<const BlockQ8_0*>(vx);
  for (int64_t i = 0; i < n / kQK32; ++i, y += kQK32) {
    const float d = f16_to_f32(x[i].d);
    for (int j = 0; j < kQK32; ++j) y[j] = static_cast<float>(x[i].qs[j]) * d;
  }
}

void quantize_row_q8_1(const float* x, void* vy, int64_t n, const float* /*importance*/) {
  auto* y = static_cast<BlockQ8_1*>(vy);
  for (int64_t i = 0; i < n / kQK32; ++i) {
    const float d = quantize_block_8bit(x + i * kQK32, y[i].qs);
    int sum = 0;
    for (int j = 0; j < kQK32; ++j) sum += y[i].qs[j];
    y[i].d = f32_to_f16(d);
    y[i].s = f32_to_f16(static_cast<float>(sum) * d);  // the unrounded d, as ggml
  }
}

void dequantize_row_q8_1(const void* vx, float* y, int64_t n) {
  const auto* x = static_cast<const BlockQ8_1*>(vx);
  for (int64_t i = 0; i < n / kQK32; ++i, y += kQK32) {
    const float d = f16_to_f32(x[i].d);
    for (int j = 0; j < kQK32; ++j) y[j] = static_cast<float>(x[i].qs[j]) * d;
  }
}

// ggml's quantize_row_q8_K_ref: a float scale -max/127 (not 128, so the AVX IQ2 kernels can
// negate codes), nearest-even rounding, and the 16 partial sums of each sub-block.
void quantize_row_q8_k(const float* x, void* vy, int64_t n, const float* /*importance*/) {
  auto* y = static_cast<BlockQ8K*>(vy);
  for (int64_t i = 0; i < n / kQKK; ++i, x += kQKK) {
    float max = 0;
    float amax = 0;
    for (int j = 0; j < kQKK; ++j) {
      const float ax = std::fabs(x[j]);
      if (ax > amax) {
        amax = ax;
        max = x[j];
      }
    }
    if (amax == 0) {
      // ggml leaves bsums unwritten here; lowbit zeroes them so the output is deterministic.
      std::memset(&y[i], 0, sizeof(BlockQ8K));
      continue;
    }
    const float iscale = -127.f / max;
    for (int j = 0; j < kQKK; ++j) y[i].qs[j] = static_cast<int8_t>(std::min(127, nearest_int(iscale * x[j])));
    for (int j = 0; j < kQKK / 16; ++j) {
      int sum = 0;
      for (int ii = 0; ii < 16; ++ii) sum += y[i].qs[j * 16 + ii];
      y[i].bsums[j] = static_cast<int16_t>(sum);
    }
    y[i].d = 1 / iscale;
  }
}

void dequantize_row_q8_k(const void* vx, float* y, int64_t n) {
  const auto* x = static_cast<const BlockQ8K*>(vx);
  for (int64_t i = 0; i < n / kQKK; ++i)
    for (int j = 0; j < kQKK; ++j) *y++ = x[i].d * static_cast<float>(x[i].qs[j]);
}

}  // namespace lowbit
