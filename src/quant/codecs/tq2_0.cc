// TQ2_0: ternary weights, two bits each; x = d * (q - 1), q in {0, 1, 2}, d = amax.
// See blocks.h for the byte layout.
#include <cmath>

#include "core/half.h"
#include "quant/codecs/blocks.h"
#include "quant/codecs/codec.h"

namespace lowbit {

// ggml's quantize_row_tq2_0_ref.
void quantize_row_tq2_0(const float* x, void* vy, int64_t n, const float* /*importance*/) {
  auto* y = static_cast<BlockTq2_0*>(vy);
  for (int64_t i = 0; i < n / kQKK; ++i) {
    float amax = 0.0f;
    for (int j = 0; j < kQKK; ++j) amax = std::fmax(amax, std::fabs(x[j]));
    const float d = amax;
    const float id = d != 0 ? 1.0f / d : 0.0f;
    y[i].d = f32_to_f16(d);
    for (int j = 0; j < kQKK / 4; j += 32, x += 128) {
      for (int m = 0; m < 32; ++m) {
        int q = 0;
        for (int k = 0; k < 4; ++k) {
          const int xi = static_cast<int>(std::lround(x[m + 32 * k] * id)) + 1;
          q += (xi & 3) << (2 * k);
        }
        y[i].qs[j + m] = static_cast<uint8_t>(q);
      }
    }
  }
}

void dequantize_row_tq2_0(const void* vx, float* y, int64_t n) {
  const auto* x = static_cast<const BlockTq2_0*>(vx);
  for (int64_t i = 0; i < n / kQKK; ++i) {
    const float d = f16_to_f32(x[i].d);
    for (int j = 0; j < kQKK / 4; j += 32)
      for (int k = 0; k < 4; ++k)
        for (int m = 0; m < 32; ++m)
          *y++ = static_cast<float>(((x[i].qs[j + m] >> (2 * k)) & 3) - 1) * d;
  }
}

}  // namespace lowbit
