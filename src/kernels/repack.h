// Row-interleaved weights for decoding (WeightLayout::Interleaved16), repacked once at load.
//
// Why. Generating one token reads every weight once, so decode should run at memory speed.
// Row by row, a 4-bit kernel spends its time unpacking: each 32-element block of a row brings
// 16 bytes of nibbles and one f16 scale, too little for a 512-bit vector. Interleaving 16 rows
// block by block lets one 512-bit load hold four code bytes of each of 16 rows (a VNNI lane per
// row, as the tile layout of qtile.h), so per block of 16 rows: 4 loads, 12 unpack operations,
// 8 vpdpbusd, and one conversion of all 16 scales — about a fifth of the row-by-row work.
//
// The layout. Rows are cut into groups of 16 (a last partial group is padded with zero rows:
// scale 0, so they add nothing). A group stores, block after block, every field of the block
// struct (quant/codecs/blocks.h) for its 16 rows, interleaved in units:
//   for each field (in struct order), for each unit u of the field, for each row r:
//       the field's bytes [u·unit, (u+1)·unit) of row r
// A group is therefore 16 × row_bytes bytes, the same as the rows it holds. The fields:
//   Q4_0, IQ4_NL (18 bytes / 32): d f16 (unit 2) | qs[16] (unit 4)
//       → d[16] (32 bytes), then 4 × 64 bytes: row r's qs[4k .. 4k+3] at byte 4r of chunk k,
//         whose low nibbles are elements 4k..4k+3 and high nibbles 16+4k..16+4k+3.
//   Q4_K (144 bytes / 256): d f16 (2) | dmin f16 (2) | scales[12] (unit 1) | qs[128] (unit 4)
//       → d[16], dmin[16], scales as 12 × 16 bytes (byte i of every row), then 32 × 64 bytes:
//         chunk 8j + c holds qs[32j + 4c ..] of each row: low nibbles = sub-block 2j, elements
//         4c..4c+3, high nibbles = sub-block 2j + 1.
//
// The arithmetic (the reference, repack_ref.cc, does exactly this per row with std::fma, so
// the AVX-512 kernel matches it bit for bit). Activations are quantized to the type's partner
// format (Q8_0 / Q8_K) exactly as for every other kernel.
//   Q4_0, IQ4_NL, per block b:  isum = −off·Σa + Σ u·a   (u: the nibble, or the IQ4_NL grid
//       value + 128; off 8 or 128), acc = fma(float(isum), f16(d)·da[b], acc).
//   Q4_K, per pair of sub-blocks (s, s+1) as llama.cpp's repacked Q4_K GEMM:
//       isum = sc_s·(Σ q·a)_s + sc_s+1·(Σ q·a)_s+1,  msum = m_s·Σa_s + m_s+1·Σa_s+1,
//       acc = fma(float(isum), f16(d)·da, acc), accm = fma(float(msum), f16(dmin)·da, accm);
//       y = acc − accm. Batches of this type use the group kernel too (qtile_matmul declines
//       interleaved K8-order matrices).
// Batches of ≥ 8 tokens keep using the tile kernels, whose tile is two groups' nibbles split
// into bytes (unpack_tile_interleaved).
#pragma once

#include <cstdint>
#include <vector>

#include "core/ggml_type.h"
#include "kernels/cpu.h"
#include "kernels/qmatmul.h"

namespace lowbit {

constexpr int kRepackRows = 16;

// One traits entry per repackable type: its block fields and partner activation format.
struct RepackField {
  int offset, size, unit;   // bytes within the block struct
};
struct RepackFormat {
  GgmlType type;
  int block;           // elements per block
  int block_bytes;
  int nfields;
  RepackField fields[4];
};
// nullptr when the type has no interleaved layout.
const RepackFormat* repack_format(GgmlType type);

// Whether the loader should repack a matrix of this type and row length: the type has a
// layout, the CPU runs its kernel (AVX-512 VNNI) and LOWBIT_REPACK is not "0".
bool repack_wanted(GgmlType type, int64_t in);

// Bytes of the interleaved form of `out` rows of `row_bytes` (groups of 16, the last padded).
uint64_t repacked_bytes(uint64_t row_bytes, int64_t out);
// W (Rows layout) → dst (repacked_bytes(W.row_bytes, W.out) bytes; padding rows zeroed).
void repack_rows(const QMatrix& W, uint8_t* dst);
// Rows [row0, row0 + rows) of an interleaved matrix back to plain rows at dst (rows × row_bytes).
void unrepack_rows(const QMatrix& W, int64_t row0, int64_t rows, uint8_t* dst);

// The activations of T tokens for the group kernels: int8 codes (token-major), per block (Q8_0
// partners) or super-block (Q8_K) the scale da, and per block of 32 the integer sum: −off·Σa
// for Q4_0 / IQ4_NL, Σa for Q4_K.
struct RepackActs {
  int64_t n = 0, tokens = 0;
  std::vector<int8_t> codes;
  std::vector<float> da;
  std::vector<int32_t> sums;
};
void repack_acts(GgmlType wtype, const float* X, int64_t n, int64_t T, RepackActs& a, std::vector<uint8_t>& scratch);

// y[0..15] = the 16 rows of one group (at `group`) times token t of a.
using RepackGroupFn = void (*)(GgmlType type, const uint8_t* group, int64_t n, const RepackActs& a, int64_t t,
                               float* y);
// The same for tokens [t0, t1): y[(t − t0)·ldy + r]; bit-identical to `group` per token (the
// AVX-512 Q4_K kernel shares each nibble unpack between four tokens).
using RepackGroupsFn = void (*)(GgmlType type, const uint8_t* group, int64_t n, const RepackActs& a, int64_t t0,
                                int64_t t1, float* y, int64_t ldy);
struct RepackKernels {
  Isa isa;
  RepackGroupFn group;
  RepackGroupsFn groups;
  const char* name;
};
// The kernels for exactly this ISA (nullptr: none); tests compare them.
const RepackKernels* repack_kernels(Isa isa);

// Rows row0 .. row0 + 31 of an interleaved W as a tile for the batch kernels (qtile.h), straight
// from the interleaved bytes (repack_tile*.cc: AVX-512 where isa allows, else the plain
// reference); the same tile as qtile's unpack of the plain rows.
struct TileFormat;
struct WeightTile;
void unpack_tile_interleaved(const TileFormat& f, const QMatrix& W, int64_t row0, WeightTile& tile, Isa isa);

// Y (T × W.out) = X (T × W.in) · Wᵀ for an interleaved W, through the group kernels of `isa`.
void repacked_matmul(const QMatrix& W, const float* X, int64_t T, float* Y, Isa isa);

}  // namespace lowbit
