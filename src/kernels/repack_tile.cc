// The tile unpacker for interleaved weights (repack.h → qtile.h), plain reference: batches of
// tokens multiply interleaved matrices through the tile kernels, which take 32 rows in the
// uniform layout. The interleaved layout is already the tile's (four codes of each row side by
// side), so a tile is two groups whose 64-byte nibble chunks split into two 64-byte code runs
// each, plus the scales: no per-row decoding. The result equals the row decoders' (qtile_unpack.h)
// for every valid row, which the repack tests check through qmatmul (bit-identical products);
// repack_tile_avx512.cc is the same with 512-bit vectors and F16C, tested against this one.
#include <algorithm>
#include <cstring>

#include "core/half.h"
#include "kernels/qtile.h"
#include "kernels/repack.h"
#include "quant/codecs/blocks.h"

namespace lowbit {

void repack_tile_group__avx512(GgmlType type, const uint8_t* g, int64_t n, int h, WeightTile& t);

namespace {

typedef uint8_t V16 __attribute__((vector_size(16)));
inline V16 ld16(const uint8_t* p) { V16 v; std::memcpy(&v, p, 16); return v; }
inline void st16(uint8_t* p, V16 v) { std::memcpy(p, &v, 16); }

inline float f16_at(const uint8_t* p) {
  uint16_t h;
  std::memcpy(&h, p, 2);
  return f16_to_f32(h);
}

// One 64-byte chunk of 16 rows' nibbles → the low-nibble quad at lo, the high one at hi.
inline void split(const uint8_t* chunk, uint8_t* lo, uint8_t* hi, bool nl) {
  if (!nl) {
    for (int i = 0; i < 64; i += 16) {
      const V16 z = ld16(chunk + i);
      st16(lo + i, z & 15);
      st16(hi + i, z >> 4);
    }
    return;
  }
  for (int i = 0; i < 64; ++i) {
    lo[i] = static_cast<uint8_t>(kIq4nlValues[chunk[i] & 15] + 128);
    hi[i] = static_cast<uint8_t>(kIq4nlValues[chunk[i] >> 4] + 128);
  }
}

// Group h (0 or 1) of the tile from the group's bytes g.
void group_q4(const uint8_t* g, int64_t n, int h, WeightTile& t, bool nl) {
  const int64_t nb = n / 32;
  for (int64_t b = 0; b < nb; ++b, g += kRepackRows * sizeof(BlockQ4_0)) {
    for (int r = 0; r < kRepackRows; ++r) t.sw[b * kTileRows + 16 * h + r] = f16_at(g + 2 * r);
    uint8_t* quads = t.codes.data() + 8 * b * 128 + 64 * h;   // 8 quads per block, 128 bytes per quad
    for (int k = 0; k < 4; ++k) split(g + 32 + 64 * k, quads + 128 * k, quads + 128 * (4 + k), nl);
  }
}

void group_q4_k(const uint8_t* g, int64_t n, int h, WeightTile& t) {
  const int64_t nsb = n / 256;
  for (int64_t sb = 0; sb < nsb; ++sb, g += kRepackRows * sizeof(BlockQ4K)) {
    for (int r = 0; r < kRepackRows; ++r) {
      uint8_t scales[12];
      for (int i = 0; i < 12; ++i) scales[i] = g[64 + 16 * i + r];
      const float d = f16_at(g + 2 * r), dmin = f16_at(g + 32 + 2 * r);
      for (int s = 0; s < 8; ++s) {
        uint8_t sc, m;
        get_scale_min_k4(s, scales, &sc, &m);
        t.sw[(8 * sb + s) * kTileRows + 16 * h + r] = d * static_cast<float>(sc);
        t.mw[(8 * sb + s) * kTileRows + 16 * h + r] = -(dmin * static_cast<float>(m));
      }
    }
    uint8_t* quads = t.codes.data() + 64 * sb * 128 + 64 * h;   // 64 quads per super-block
    for (int j = 0; j < 4; ++j)
      for (int c = 0; c < 8; ++c)
        split(g + 256 + 64 * (8 * j + c), quads + 128 * (16 * j + c), quads + 128 * (16 * j + 8 + c), false);
  }
}

}  // namespace

void repack_tile_group__ref(GgmlType type, const uint8_t* g, int64_t n, int h, WeightTile& t) {
  switch (type) {
    case GgmlType::Q4_0: return group_q4(g, n, h, t, false);
    case GgmlType::IQ4_NL: return group_q4(g, n, h, t, true);
    case GgmlType::Q4_K: return group_q4_k(g, n, h, t);
    default: return;
  }
}

void unpack_tile_interleaved(const TileFormat& f, const QMatrix& W, int64_t row0, WeightTile& t, Isa isa) {
  const int64_t n = W.in;
  tile_init(f, n, t);
  const bool simd = isa == Isa::Avx512 && cpu_best_isa() == Isa::Avx512;
  const uint64_t gbytes = kRepackRows * W.row_bytes;
  for (int h = 0; h < 2; ++h) {
    const int64_t first = row0 + kRepackRows * h;
    if (first >= W.out) {   // no such group: zero rows (the gemm writes only valid rows)
      for (int64_t q = 0; q < n / 4; ++q) std::memset(t.codes.data() + 128 * q + 64 * h, 0, 64);
      continue;
    }
    const uint8_t* g = W.data + static_cast<uint64_t>(first / kRepackRows) * gbytes;
    if (simd) repack_tile_group__avx512(W.type, g, n, h, t);
    else repack_tile_group__ref(W.type, g, n, h, t);
  }
}

}  // namespace lowbit
