// IQ4_XS: 256 weights in 8 sub-blocks of 32; x = d * (ls - 32) * kIq4nlValues[q] with a 6-bit
// ls per sub-block. See blocks.h for the byte layout.
#include "core/half.h"
#include "quant/codecs/blocks.h"
#include "quant/codecs/codec.h"
#include "quant/codecs/scale_search.h"

namespace lowbit {

// llama.cpp's quantize_iq4_xs (its _ref is the same call without importance).
void quantize_row_iq4_xs(const float* x, void* vy, int64_t n, const float* importance) {
  auto* y = static_cast<BlockIq4Xs*>(vy);
  for (int64_t ibl = 0; ibl < n / kQKK; ++ibl) {
    quantize_iq4_superblock(kQKK, x + kQKK * ibl, &y[ibl].d, y[ibl].qs, &y[ibl].scales_h,
                            y[ibl].scales_l, importance ? importance + kQKK * ibl : nullptr, 7);
  }
}

void dequantize_row_iq4_xs(const void* vx, float* y, int64_t n) {
  const auto* x = static_cast<const BlockIq4Xs*>(vx);
  for (int64_t i = 0; i < n / kQKK; ++i) {
    const uint8_t* qs = x[i].qs;
    const float d = f16_to_f32(x[i].d);
    for (int ib = 0; ib < kQKK / 32; ++ib, y += 32, qs += 16) {
      const int ls = ((x[i].scales_l[ib / 2] >> 4 * (ib % 2)) & 0xf) | (((x[i].scales_h >> 2 * ib) & 3) << 4);
      const float dl = d * static_cast<float>(ls - 32);
      for (int j = 0; j < 16; ++j) {
        y[j + 0] = dl * static_cast<float>(kIq4nlValues[qs[j] & 0xf]);
        y[j + 16] = dl * static_cast<float>(kIq4nlValues[qs[j] >> 4]);
      }
    }
  }
}

}  // namespace lowbit
