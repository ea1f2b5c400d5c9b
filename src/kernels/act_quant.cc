#include "kernels/act_quant.h"

#include <algorithm>
#include <cmath>
#include <cstring>

#include "core/half.h"
#include "quant/codecs/blocks.h"

namespace lowbit {
namespace {

// One block: amax, d = amax / 127 (stored f16), id = 127 / amax, q = rint(x * id), rounded
// half to even as _mm256_round_ps does. |x * id| <= 127, so adding and subtracting 1.5 * 2^23
// rounds it to nearest-even exactly (the sum's ulp is 1): loops the compiler vectorizes on
// any x86-64, bit-identical to std::nearbyint. (The kernels library is built with
// -ffp-contract=off, so x * id + kMagic is never fused.) amax starts at 0 and max keeps it
// when x is NaN, as fmax would.
float block_codes(const float* x, int8_t* q, int* sum) {
  constexpr float kMagic = 12582912.0f;
  float amax = 0;
  for (int j = 0; j < kQK32; ++j) amax = std::max(amax, std::fabs(x[j]));
  const float d = amax / 127.f;
  const float id = amax != 0.0f ? 127.f / amax : 0.0f;
  float r[kQK32];
  for (int j = 0; j < kQK32; ++j) {
    const float v = x[j] * id;
    r[j] = (v + kMagic) - kMagic;
  }
  int s = 0;
  for (int j = 0; j < kQK32; ++j) {
    q[j] = static_cast<int8_t>(static_cast<int>(r[j]));
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
