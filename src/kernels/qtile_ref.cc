// The plain reference of the tile kernels (qtile.h): the same row decoders as the AVX-512
// file, and the tile product evaluated lane by lane in exactly the order the SIMD kernel
// uses — int32 sums from init, then acc = fma(float(isum), sw·da, acc) and, with mins,
// acc = fma(mw, ma, acc) per sub-block — so the two agree bit for bit.
#include <cmath>

#include "kernels/qtile.h"
#include "kernels/qtile_unpack.h"

namespace lowbit {

void qtile_unpack__ref(const TileFormat& f, const QMatrix& W, int64_t row0, WeightTile& tile) {
  unpack_tile_rows(f, W, row0, tile, interleave_plain);
}

void qtile_gemm__ref(const TileFormat& f, const WeightTile& w, const ActPack& a, int64_t t0, int64_t t1, float* Y,
               int64_t ldy, int64_t row0, int rows) {
  const int64_t n = w.n, S = w.sub, nsub = n / S;
  for (int64_t t = t0; t < t1; ++t) {
    const int8_t* ac = a.codes.data() + t * n;
    for (int r = 0; r < rows; ++r) {
      float acc = 0.0f;
      for (int64_t s = 0; s < nsub; ++s) {
        int32_t isum = a.init[t * nsub + s];
        for (int64_t e = s * S; e < (s + 1) * S; ++e)
          isum += static_cast<int32_t>(w.codes[(e / 4) * 128 + 4 * r + e % 4]) * ac[e];
        const float scale = w.sw[s * kTileRows + r] * a.da[t * nsub + s];
        acc = std::fma(static_cast<float>(isum), scale, acc);
        if (f.mins) acc = std::fma(w.mw[s * kTileRows + r], a.ma[t * nsub + s], acc);
      }
      Y[t * ldy + row0 + r] = acc;
    }
  }
}

}  // namespace lowbit
