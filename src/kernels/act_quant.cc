#include "kernels/act_quant.h"

#include <cmath>
#include <cstring>

#include "core/half.h"
#include "quant/codecs/blocks.h"

namespace lowbit {
namespace {

// One block: amax, d = amax / 127 (stored f16), id = 127 / amax, q = rint(x * id).
// std::nearbyint rounds half to even in the default rounding mode, as _mm256_round_ps does.
float block_codes(const float* x, int8_t* q, int* sum) {
  float amax = 0;
  for (int j = 0; j < kQK32; ++j) amax = std::fmax(amax, std::fabs(x[j]));
  const float d = amax / 127.f;
  const float id = amax != 0.0f ? 127.f / amax : 0.0f;
  int s = 0;
  for (int j = 0; j < kQK32; ++j) {
    q[j] = static_cast<int8_t>(std::nearbyint(x[j] * id));
    s += q[j];
  }
  *sum = s;
  return d;
}

}  // namespace

void quantize_act_q8_0(const float* x, void* vy, int64_t n) {
  auto* y = static_cast<BlockQ8_0*>(vy);
  for (int64_t b = 0; b < n / kQK32; ++b) {
    int s;
    y[b].d = f32_to_f16(block_codes(x + b * kQK32, y[b].qs, &s));
  }
}

void quantize_act_q8_1(const float* x, void* vy, int64_t n) {
  auto* y = static_cast<BlockQ8_1*>(vy);
  for (int64_t b = 0; b < n / kQK32; ++b) {
    int s;
    const float d = block_codes(x + b * kQK32, y[b].qs, &s);
    y[b].d = f32_to_f16(d);
    y[b].s = f32_to_f16(d * static_cast<float>(s));
  }
}

}  // namespace lowbit
