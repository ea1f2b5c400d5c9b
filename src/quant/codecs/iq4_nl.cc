// IQ4_NL: 32 weights, one f16 scale, x = d * kIq4nlValues[q] on a fixed non-uniform grid.
// See blocks.h for the byte layout; the quantizer is shared with IQ4_XS (scale_search.cc).
#include "core/half.h"
#include "quant/codecs/blocks.h"
#include "quant/codecs/codec.h"
#include "quant/codecs/scale_search.h"

namespace lowbit {

// llama.cpp's quantize_iq4_nl (what llama-quantize runs, with or without an imatrix): seven
// grid stretches either side of max/-127, weights x^2 or importance * sqrt(sigma^2 + x^2).
// (ggml's quantize_row_iq4_nl_ref tries no stretches; lowbit writes what the tool writes.)
void quantize_row_iq4_nl(const float* x, void* vy, int64_t n, const float* importance) {
  auto* y = static_cast<BlockIq4Nl*>(vy);
  for (int64_t ib = 0; ib < n / kQK32; ++ib) {
    uint16_t unused_h = 0;
    quantize_iq4_superblock(kQK32, x + kQK32 * ib, &y[ib].d, y[ib].qs, &unused_h, nullptr,
                            importance ? importance + kQK32 * ib : nullptr, 7);
  }
}

void dequantize_row_iq4_nl(const void* vx, float* y, int64_t n) {
  const auto* x = static_cast<const BlockIq4Nl*>(vx);
  for (int64_t i = 0; i < n / kQK32; ++i, y += kQK32) {
    const float d = f16_to_f32(x[i].d);
    for (int j = 0; j < kQK32 / 2; ++j) {
      y[j] = d * static_cast<float>(kIq4nlValues[x[i].qs[j] & 0xf]);
      y[j + kQK32 / 2] = d * static_cast<float>(kIq4nlValues[x[i].qs[j] >> 4]);
    }
  }
}

}  // namespace lowbit
