#include "kernels/qtile.h"

#include <omp.h>

#include <algorithm>
#include <cstring>

#include "core/half.h"
#include "kernels/qdot.h"
#include "kernels/repack.h"
#include "quant/codecs/blocks.h"

namespace lowbit {

// Defined in the per-ISA files; this table is the only caller.
void qtile_unpack__ref(const TileFormat& f, const QMatrix& W, int64_t row0, WeightTile& tile);
void qtile_gemm__ref(const TileFormat& f, const WeightTile& w, const ActPack& a, int64_t t0, int64_t t1, float* Y,
                     int64_t ldy, int64_t row0, int rows);
void qtile_unpack__avx2(const TileFormat& f, const QMatrix& W, int64_t row0, WeightTile& tile);
void qtile_gemm__avx2(const TileFormat& f, const WeightTile& w, const ActPack& a, int64_t t0, int64_t t1, float* Y,
                      int64_t ldy, int64_t row0, int rows);
void qtile_unpack__avx512(const TileFormat& f, const QMatrix& W, int64_t row0, WeightTile& tile);
void qtile_gemm__avx512(const TileFormat& f, const WeightTile& w, const ActPack& a, int64_t t0, int64_t t1, float* Y,
                        int64_t ldy, int64_t row0, int rows);

namespace {

// The traits table: partner activation format, sub-block size, code offset, min term.
constexpr TileFormat kFormats[] = {
    {GgmlType::Q4_0, GgmlType::Q8_0, 32, 8, false, TileOrder::Sub},    {GgmlType::Q4_1, GgmlType::Q8_1, 32, 0, true, TileOrder::Lane8},
    {GgmlType::Q5_0, GgmlType::Q8_0, 32, 16, false, TileOrder::Lane8},    {GgmlType::Q5_1, GgmlType::Q8_1, 32, 0, true, TileOrder::Lane8},
    {GgmlType::Q8_0, GgmlType::Q8_0, 32, 128, false, TileOrder::Lane8},   {GgmlType::IQ4_NL, GgmlType::Q8_0, 32, 128, false, TileOrder::Sub},
    {GgmlType::Q2_K, GgmlType::Q8_K, 16, 0, true, TileOrder::K8},     {GgmlType::Q3_K, GgmlType::Q8_K, 16, 4, false, TileOrder::K8},
    {GgmlType::Q4_K, GgmlType::Q8_K, 32, 0, true, TileOrder::K8},     {GgmlType::Q5_K, GgmlType::Q8_K, 32, 0, true, TileOrder::K8},
    {GgmlType::Q6_K, GgmlType::Q8_K, 16, 32, false, TileOrder::K8},   {GgmlType::IQ4_XS, GgmlType::Q8_K, 32, 128, false, TileOrder::K8},
    {GgmlType::TQ2_0, GgmlType::Q8_K, 32, 1, false, TileOrder::K8},   {GgmlType::TQ1_0, GgmlType::Q8_K, 32, 1, false, TileOrder::K8},
};

}  // namespace

const TileFormat* tile_format(GgmlType wtype) {
  for (const TileFormat& f : kFormats)
    if (f.wtype == wtype) return &f;
  return nullptr;
}

const TileKernels* tile_kernels(Isa isa) {
  static constexpr TileKernels ref = {Isa::Ref, qtile_unpack__ref, qtile_gemm__ref, "qtile__ref"};
  static constexpr TileKernels avx2 = {Isa::Avx2, qtile_unpack__avx2, qtile_gemm__avx2, "qtile__avx2"};
  static constexpr TileKernels avx512 = {Isa::Avx512, qtile_unpack__avx512, qtile_gemm__avx512, "qtile__avx512"};
  if (static_cast<int>(isa) > static_cast<int>(cpu_best_isa())) return nullptr;
  switch (isa) {
    case Isa::Ref: return &ref;
    case Isa::Avx2: return &avx2;
    case Isa::Avx512: return &avx512;
  }
  return nullptr;
}

void tile_init(const TileFormat& f, int64_t n, WeightTile& t) {
  const size_t nsub = static_cast<size_t>(n / f.sub);
  t.n = n;
  t.sub = f.sub;
  t.codes.resize(static_cast<size_t>(n) * kTileRows);
  t.sw.assign(nsub * kTileRows, 0.0f);
  t.mw.assign(f.mins ? nsub * kTileRows : 0, 0.0f);
  const bool k8 = f.order == TileOrder::K8;
  t.isc.assign(k8 ? nsub * kTileRows : 0, 0);
  t.imn.assign(k8 && f.mins ? nsub * kTileRows : 0, 0);
  t.dsb.assign(k8 ? static_cast<size_t>(n / 256) * kTileRows : 0, 0.0f);
  t.dmsb.assign(k8 && f.mins ? static_cast<size_t>(n / 256) * kTileRows : 0, 0.0f);
}

void pack_init(const TileFormat& f, int64_t n, int64_t tokens, ActPack& p) {
  const size_t nsub = static_cast<size_t>(n / f.sub), T = static_cast<size_t>(tokens);
  p.n = n;
  p.tokens = tokens;
  p.sub = f.sub;
  p.codes.resize(T * static_cast<size_t>(n));
  p.init.resize(T * nsub);
  p.da.resize(T * nsub);
  p.ma.resize(T * nsub);
  const bool quads = f.order == TileOrder::Lane8 || f.wtype == GgmlType::Q3_K || f.wtype == GgmlType::IQ4_XS;
  p.qinit.resize(quads ? T * static_cast<size_t>(n / 4) : 0);
  p.bsum.resize(f.act == GgmlType::Q8_K ? T * static_cast<size_t>(n / 16) : 0);
}

void pack_token(const TileFormat& f, const float* x, int64_t t, ActPack& p, std::vector<uint8_t>& scratch) {
  const int64_t n = p.n, nsub = n / f.sub;
  uint64_t bytes = 0;
  ggml_row_bytes(f.act, n, &bytes);
  scratch.resize(bytes);
  quantize_activation_row(f.act, x, scratch.data(), n);
  int8_t* codes = p.codes.data() + t * n;
  int32_t* init = p.init.data() + t * nsub;
  float *da = p.da.data() + t * nsub, *ma = p.ma.data() + t * nsub;
  const uint8_t* b = scratch.data();
  if (f.act == GgmlType::Q8_K) {   // f32 d, i8 qs[256], i16 bsums[16]; sub-blocks of 16 or 32
    const int per = 256 / f.sub, sums = f.sub / 16;
    for (int64_t blk = 0; blk < n / 256; ++blk, b += sizeof(BlockQ8K)) {
      float d;
      std::memcpy(&d, b, 4);
      std::memcpy(codes + 256 * blk, b + 4, 256);
      if (!p.qinit.empty())   // Q3_K, IQ4_XS (K8 order): −off · Σa per quad
        for (int q = 0; q < 64; ++q) {
          int qs = 0;
          for (int e = 0; e < 4; ++e) qs += static_cast<int8_t>(b[4 + 4 * q + e]);
          p.qinit[t * (n / 4) + 64 * blk + q] = -f.off * qs;
        }
      for (int s = 0; s < per; ++s) {
        int sum = 0;
        for (int k = 0; k < sums; ++k) {
          int16_t v;
          std::memcpy(&v, b + 260 + 2 * (sums * s + k), 2);
          sum += v;
          p.bsum[t * (n / 16) + 16 * blk + sums * s + k] = v;
        }
        const int64_t i = blk * per + s;
        init[i] = -f.off * sum;
        da[i] = d;
        ma[i] = d * static_cast<float>(sum);
      }
    }
    return;
  }
  // Q8_0 (f16 d, i8 qs[32]) or Q8_1 (f16 d, f16 s = d·Σq, i8 qs[32]); sub-block = block.
  const bool q81 = f.act == GgmlType::Q8_1;
  const size_t bs = q81 ? sizeof(BlockQ8_1) : sizeof(BlockQ8_0), qo = q81 ? 4 : 2;
  for (int64_t blk = 0; blk < nsub; ++blk, b += bs) {
    uint16_t d, s = 0;
    std::memcpy(&d, b, 2);
    if (q81) std::memcpy(&s, b + 2, 2);
    std::memcpy(codes + 32 * blk, b + qo, 32);
    int sum = 0;
    for (int j = 0; j < 32; ++j) sum += static_cast<int8_t>(b[qo + j]);
    init[blk] = -f.off * sum;
    if (f.order == TileOrder::Lane8)
      for (int q = 0; q < 8; ++q) {
        int qs = 0;
        for (int e = 0; e < 4; ++e) qs += static_cast<int8_t>(b[qo + 4 * q + e]);
        p.qinit[t * (n / 4) + 8 * blk + q] = -f.off * qs;
      }
    da[blk] = f16_to_f32(d);
    ma[blk] = q81 ? f16_to_f32(s) : da[blk] * static_cast<float>(sum);
  }
}

void qgemv_rows__avx512(const QMatrix& W, const ActPack& a, int64_t t, int64_t o0, int64_t o1, float* y);

bool qgemv_matmul(const QMatrix& W, const float* X, int64_t T, float* Y, Isa isa) {
  if (W.layout != WeightLayout::Rows || isa != Isa::Avx512 || cpu_best_isa() != Isa::Avx512 || (W.type != GgmlType::Q4_0 && W.type != GgmlType::IQ4_NL && W.type != GgmlType::Q8_0))
    return false;
  const TileFormat* f = tile_format(W.type);
  thread_local ActPack acts;
  pack_init(*f, W.in, T, acts);
  ActPack& a = acts;
  constexpr int64_t kRows = 16;
  const int64_t chunks = (W.out + kRows - 1) / kRows;
  const int threads = W.in * W.out * T < (1 << 16) ? 1 : omp_get_max_threads();
#pragma omp parallel num_threads(threads)
  {
    thread_local std::vector<uint8_t> scratch;
#pragma omp for schedule(static)
    for (int64_t t = 0; t < T; ++t) pack_token(*f, X + t * W.in, t, a, scratch);
#pragma omp for schedule(static)
    for (int64_t c = 0; c < chunks; ++c)
      for (int64_t t = 0; t < T; ++t)
        qgemv_rows__avx512(W, a, t, c * kRows, std::min(W.out, (c + 1) * kRows), Y + t * W.out);
  }
  return true;
}

bool qtile_matmul(const QMatrix& W, const float* X, int64_t T, float* Y, Isa isa) {
  const TileFormat* f = tile_format(W.type);
  const TileKernels* k = tile_kernels(isa);
  if (!f || !k || W.in % f->sub != 0) return false;
  // The interleaved unpacker fills codes and float scales only: K8-order types (Q4_K) batch
  // through the repack group kernel instead (repack.h).
  if (W.layout == WeightLayout::Interleaved16 && f->order == TileOrder::K8) return false;
  thread_local ActPack acts;
  pack_init(*f, W.in, T, acts);
  const int64_t tiles = (W.out + kTileRows - 1) / kTileRows;
  const int threads = W.in * W.out * T < (1 << 16) ? 1 : omp_get_max_threads();
  ActPack& a = acts;
#pragma omp parallel num_threads(threads)
  {
    thread_local std::vector<uint8_t> scratch;
    thread_local WeightTile tile;
#pragma omp for schedule(static)
    for (int64_t t = 0; t < T; ++t) pack_token(*f, X + t * W.in, t, a, scratch);
#pragma omp for schedule(dynamic, 1)
    for (int64_t i = 0; i < tiles; ++i) {
      const int64_t row0 = i * kTileRows;
      if (W.layout == WeightLayout::Interleaved16) unpack_tile_interleaved(*f, W, row0, tile, isa);   // repack.h
      else k->unpack(*f, W, row0, tile);
      k->gemm(*f, tile, a, 0, T, Y, W.out, row0, static_cast<int>(std::min<int64_t>(kTileRows, W.out - row0)));
    }
  }
  return true;
}

}  // namespace lowbit
