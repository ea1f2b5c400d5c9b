// TQ1_0: ternary weights (BitNet b1.58, TriLM), five base-3 digits per byte; x = d * t with
// t in {-1, 0, 1} and d = amax. See blocks.h for the byte layout.
#include <cmath>

#include "core/half.h"
#include "quant/codecs/blocks.h"
#include "quant/codecs/codec.h"

namespace lowbit {
namespace {

constexpr uint8_t kPow3[6] = {1, 3, 9, 27, 81, 243};

// The trit of x (round(x / d) + 1 in {0, 1, 2}); lround rounds halves away from zero.
int trit(float x, float id) { return static_cast<int>(std::lround(x * id)) + 1; }

// A base-3 number v (digits most significant first) stored as the byte ceil(v * 256 / 243):
// multiplying the byte by 3^n and taking the top bits of (byte * 3) then reads digit n.
uint8_t to_fraction(uint8_t v) { return static_cast<uint8_t>((v * 256 + (243 - 1)) / 243); }

// Digit n of a stored byte.
int digit(uint8_t b, int n) {
  const uint8_t q = static_cast<uint8_t>(b * kPow3[n]);
  return (q * 3) >> 8;
}

}  // namespace

// ggml's quantize_row_tq1_0_ref (TQ formats have no importance-weighted variant).
void quantize_row_tq1_0(const float* x, void* vy, int64_t n, const float* /*importance*/) {
  auto* y = static_cast<BlockTq1_0*>(vy);
  for (int64_t i = 0; i < n / kQKK; ++i) {
    float amax = 0.0f;
    for (int j = 0; j < kQKK; ++j) amax = std::fmax(amax, std::fabs(x[j]));
    const float d = amax;
    const float id = d != 0 ? 1.0f / d : 0.0f;
    y[i].d = f32_to_f16(d);
    // Elements 0..159: byte m (0..31) holds elements m + 32k, k = 0..4.
    for (int m = 0; m < 32; ++m) {
      uint8_t q = 0;
      for (int k = 0; k < 5; ++k) q = static_cast<uint8_t>(q * 3 + trit(x[m + 32 * k], id));
      y[i].qs[m] = to_fraction(q);
    }
    x += 160;
    // Elements 160..239: byte 32 + m (m = 0..15) holds elements m + 16k.
    for (int m = 0; m < 16; ++m) {
      uint8_t q = 0;
      for (int k = 0; k < 5; ++k) q = static_cast<uint8_t>(q * 3 + trit(x[m + 16 * k], id));
      y[i].qs[32 + m] = to_fraction(q);
    }
    x += 80;
    // Elements 240..255: qh byte j holds elements j + 4k, k = 0..3, and a zero fifth digit.
    for (int j = 0; j < 4; ++j) {
      uint8_t q = 0;
      for (int k = 0; k < 4; ++k) q = static_cast<uint8_t>(q * 3 + trit(x[j + 4 * k], id));
      y[i].qh[j] = to_fraction(static_cast<uint8_t>(q * 3));
    }
    x += 16;
  }
}

void dequantize_row_tq1_0(const void* vx, float* y, int64_t n) {
  const auto* x = static_cast<const BlockTq1_0*>(vx);
  for (int64_t i = 0; i < n / kQKK; ++i) {
    const float d = f16_to_f32(x[i].d);
    for (int k = 0; k < 5; ++k)
      for (int m = 0; m < 32; ++m) *y++ = static_cast<float>(digit(x[i].qs[m], k) - 1) * d;
    for (int k = 0; k < 5; ++k)
      for (int m = 0; m < 16; ++m) *y++ = static_cast<float>(digit(x[i].qs[32 + m], k) - 1) * d;
    for (int k = 0; k < 4; ++k)
      for (int j = 0; j < 4; ++j) *y++ = static_cast<float>(digit(x[i].qh[j], k) - 1) * d;
  }
}

}  // namespace lowbit
