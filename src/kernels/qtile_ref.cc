// The plain reference of the tile kernels (qtile.h): the same row decoders as the AVX-512
// file, and the tile product evaluated lane by lane in exactly the order the SIMD kernel
// uses — int32 sums from init, then acc = fma(float(isum), sw·da, acc) and, with mins,
// acc = fma(mw, ma, acc) per sub-block — so the two agree bit for bit.
#include <cmath>
#include <utility>

#include "kernels/qtile.h"
#include "kernels/qtile_unpack.h"

namespace lowbit {

void qtile_unpack__ref(const TileFormat& f, const QMatrix& W, int64_t row0, WeightTile& tile) {
  unpack_tile_rows(f, W, row0, tile, interleave_plain);
}

// The lane8 order (qtile.h: TileOrder::Lane8), lane by lane.
void qtile_gemm_lane8__ref(const TileFormat& f, const WeightTile& w, const ActPack& a, int64_t t0, int64_t t1, float* Y,
                           int64_t ldy, int64_t row0, int rows) {
  const int64_t n = w.n, nsub = n / 32;
  for (int64_t t = t0; t < t1; ++t) {
    const int8_t* ac = a.codes.data() + t * n;
    for (int r = 0; r < rows; ++r) {
      float acc[8] = {}, summs = 0.0f;
      for (int64_t s = 0; s < nsub; ++s) {
        const float p = w.sw[s * kTileRows + r] * a.da[t * nsub + s];
        for (int q = 0; q < 8; ++q) {
          int32_t isum = a.qinit[t * (n / 4) + 8 * s + q];
          for (int e = 0; e < 4; ++e) isum += static_cast<int32_t>(w.codes[(8 * s + q) * 128 + 4 * r + e]) * ac[32 * s + 4 * q + e];
          acc[q] = std::fma(p, static_cast<float>(isum), acc[q]);
        }
        if (f.mins) summs = std::fma(w.mw[s * kTileRows + r], a.ma[t * nsub + s], summs);
      }
      float c[4];
      for (int i = 0; i < 4; ++i) c[i] = acc[i] + acc[i + 4];
      const float y = (c[0] + c[2]) + (c[1] + c[3]);
      Y[t * ldy + row0 + r] = f.mins ? y + summs : y;
    }
  }
}

// The K8 order (qtile.h: TileOrder::K8), lane by lane.
void qtile_gemm_k8__ref(const TileFormat& f, const WeightTile& w, const ActPack& a, int64_t t0, int64_t t1, float* Y,
                        int64_t ldy, int64_t row0, int rows) {
  const int64_t n = w.n, nsub = n / f.sub, nsb = n / 256, per = 256 / f.sub;
  if (f.wtype == GgmlType::Q2_K || f.wtype == GgmlType::Q4_K) {   // groups of sub-blocks, scale and min accumulators
    const int S = f.sub, per_group = f.wtype == GgmlType::Q2_K ? 8 : 2;
    for (int64_t t = t0; t < t1; ++t) {
      const int8_t* ac = a.codes.data() + t * n;
      const int32_t* B = a.bsum.data() + t * (n / 16);
      for (int r = 0; r < rows; ++r) {
        float acc = 0.0f, accm = 0.0f;
        for (int64_t sb = 0; sb < nsb; ++sb) {
          const float da = a.da[t * nsub + per * sb];
          for (int g0 = 0; g0 < per; g0 += per_group) {
            int32_t L = 0, M = 0;
            for (int s = g0; s < g0 + per_group; ++s) {
              const int64_t e0 = 256 * sb + S * s;
              int32_t q = 0;
              for (int e = 0; e < S; ++e) q += static_cast<int32_t>(w.codes[((e0 + e) / 4) * 128 + 4 * r + e % 4]) * ac[e0 + e];
              int32_t bs = 0;
              for (int k = 0; k < S / 16; ++k) bs += B[e0 / 16 + k];
              L += w.isc[(per * sb + s) * kTileRows + r] * q;
              M += w.imn[(per * sb + s) * kTileRows + r] * bs;
            }
            acc = std::fma(static_cast<float>(L), w.dsb[sb * kTileRows + r] * da, acc);
            accm = std::fma(static_cast<float>(M), w.dmsb[sb * kTileRows + r] * da, accm);
          }
        }
        Y[t * ldy + row0 + r] = acc - accm;
      }
    }
    return;
  }
  const bool q6 = f.wtype == GgmlType::Q6_K, per16 = q6 || f.wtype == GgmlType::Q3_K;
  const bool q3 = !a.qinit.empty();   // Q3_K, IQ4_XS: the offset inside each quad's sum
  const bool one_lane = f.wtype == GgmlType::IQ4_XS;
  for (int64_t t = t0; t < t1; ++t) {
    const int8_t* ac = a.codes.data() + t * n;
    const int32_t* B = a.bsum.data() + t * (n / 16);
    for (int r = 0; r < rows; ++r) {
      float acc[8] = {}, summs = 0.0f;
      for (int64_t sb = 0; sb < nsb; ++sb) {
        auto sc = [&](int64_t s) { return w.isc[(per * sb + s) * kTileRows + r]; };
        int32_t L[8] = {};
        for (int c = 0; c < 8; ++c)
          for (int l = 0; l < 8; ++l) {
            int32_t q = q3 ? a.qinit[t * (n / 4) + 64 * sb + 8 * c + l] : 0;
            for (int e = 0; e < 4; ++e)
              q += static_cast<int32_t>(w.codes[(64 * sb + 8 * c + l) * 128 + 4 * r + e]) * ac[256 * sb + 32 * c + 4 * l + e];
            L[l] += sc(per16 ? 2 * c + l / 4 : c) * q;
          }
        if (q6)
          for (int l = 0; l < 8; ++l) L[l] -= 32 * (sc(2 * l) * B[16 * sb + 2 * l] + sc(2 * l + 1) * B[16 * sb + 2 * l + 1]);
        if (f.wtype == GgmlType::TQ2_0 || f.wtype == GgmlType::TQ1_0)
          for (int l = 0; l < 8; ++l) L[l] -= B[16 * sb + 2 * l] + B[16 * sb + 2 * l + 1];
        const float da = a.da[t * nsub + per * sb];
        const float p = w.dsb[sb * kTileRows + r] * da;
        if (one_lane)
          for (int l = 1; l < 8; ++l) L[0] += std::exchange(L[l], 0);
        for (int l = 0; l < 8; ++l) acc[l] = std::fma(p, static_cast<float>(L[l]), acc[l]);
        if (f.mins) {
          int32_t msum = 0;
          for (int s = 0; s < 8; ++s) msum += w.imn[(8 * sb + s) * kTileRows + r] * (B[16 * sb + 2 * s] + B[16 * sb + 2 * s + 1]);
          summs = std::fma(static_cast<float>(msum), -(da * w.dmsb[sb * kTileRows + r]), summs);
        }
      }
      float c[4];
      for (int i = 0; i < 4; ++i) c[i] = acc[i] + acc[i + 4];
      const float y = (c[0] + c[2]) + (c[1] + c[3]);
      Y[t * ldy + row0 + r] = f.mins ? y + summs : y;
    }
  }
}

void qtile_gemm__ref(const TileFormat& f, const WeightTile& w, const ActPack& a, int64_t t0, int64_t t1, float* Y,
               int64_t ldy, int64_t row0, int rows) {
  if (f.order == TileOrder::K8) return qtile_gemm_k8__ref(f, w, a, t0, t1, Y, ldy, row0, rows);
  if (f.order == TileOrder::Lane8) return qtile_gemm_lane8__ref(f, w, a, t0, t1, Y, ldy, row0, rows);
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
