// Batched matrix products for quantized weights (prompt processing): a tile of 32 weight rows
// is unpacked once into one uniform integer layout, then multiplied with every token of the
// batch by one kernel for all types — instead of unpacking every weight block again per token
// as a row-by-row dot product would.
//
// The uniform layout. Every supported block format is, per sub-block of S (16 or 32) elements,
//
//   w[e] = sw · (u[e] − off) + mw        u: an unsigned byte code, off: the type's offset,
//                                        sw: a float scale, mw: a float min (0 without mins)
//
// e.g. Q4_0: u = q (0..15), off = 8, sw = d; Q8_0: u = q + 128, off = 128; Q4_K: u = q,
// off = 0, sw = d·sc, mw = −dmin·m; Q6_K: S = 16, u = q (0..63), off = 32, sw = d·sc. The
// products are exactly the codec's dequantization (qtile_test checks every type bit for bit).
// Activations are quantized to the weight type's partner format exactly as for the dot
// kernels (Q8_0 / Q8_1 / Q8_K: same codes, same scales), then repacked: int8 codes a[e] in
// element order and, per sub-block, da (its scale), init = −off · Σa and ma = da · Σa. So
//
//   y = Σ_sub  float(init + Σ_e u[e] · a[e]) · (sw · da)  +  mw · ma
//
// where the integer part is exact (int32; one VNNI vpdpbusd does 64 of those products with
// u unsigned and a signed) and the float part is one fma per sub-block (plus one for mins).
// The reference (qtile_ref.cc) evaluates exactly this with std::fma, so the AVX-512 kernel
// matches it bit for bit. Against the row-by-row dot kernels the result differs only by float
// rounding of the per-sub-block products (they scale whole super-blocks at once).
//
// Tile layout (32 rows, n elements): codes[n/4][32][4] — for each group of four elements, row
// r's four codes at byte 4r, so one 512-bit load holds four codes of sixteen rows: a VNNI
// lane per row. Scales sw[n/S][32], mins mw[n/S][32]. Rows past the matrix are all zero.
#pragma once

#include <cstdint>
#include <vector>

#include "core/ggml_type.h"
#include "kernels/cpu.h"
#include "kernels/qmatmul.h"

namespace lowbit {

constexpr int kTileRows = 32;

// The float order of a tile product (both exact in their integer parts), after the llama.cpp
// kernel the type's batches run through there (AVX-512 build):
//   Sub:   per sub-block acc = fma(float(isum), sw·da, acc) (+ fma(mw, ma, acc) with mins) —
//          llama.cpp's repacked Q4_0 / IQ4_NL GEMM;
//   Lane8: llamafile tinyBLAS_Q0 (Q8_0, Q5_0) and ggml_vec_dot_q4_1/q5_1_q8_1 (Q4_1, Q5_1): per
//          block of 32, eight int32 sums of four products (quad q = elements 4q..4q+3) go into
//          lane q: acc[q] = fma(sw·da, float(isum_q), acc[q]); with mins summs = fma(mw, ma,
//          summs); y = ((c0 + c2) + (c1 + c3)) (+ summs), c_i = acc[i] + acc[i + 4];
//   K8:    ggml_vec_dot_q6_K_q8_K / _q5_K_ / _q3_K_q8_K (AVX2 code): per super-block eight int32
//          lanes, lane l = Σ over the 32-element chunks c of sc(c, l)·Σ(w·a over quad l of chunk
//          c), sc the integer sub-block scale; w = q unsigned for Q6_K and Q5_K, the signed q − 4
//          for Q3_K; IQ4_XS (llama.cpp's iqp batch kernel) keeps one lane, the super-block's
//          whole integer sum, w its signed grid value; TQ2_0 has no scales (sc = 1), w = t + 1
//          and subtracts B[2l] + B[2l+1]; Q6_K subtracts 32·(sc[2l]·B[2l] + sc[2l+1]·B[2l+1]) (B: activation
//          sums per 16). acc[l] = fma(d·da, float(lane l),
//          acc[l]); Q5_K adds per super-block summs = fma(float(Σ m_s·B32_s), −(da·dmin), summs).
//          y = the Lane8 reduction of acc (+ summs). Q2_K and Q4_K (llama.cpp's repacked GEMMs):
//          per group of sub-blocks — a half super-block (eight of 16) for Q2_K, a pair (two of
//          32) for Q4_K — acc = fma(float(Σ sc·Σq·a), d·da, acc) and accm = fma(float(Σ m·B),
//          dmin·da, accm); y = acc − accm.
enum class TileOrder { Sub, Lane8, K8 };

// How one weight type maps onto the uniform layout (one traits table, qtile.cc).
struct TileFormat {
  GgmlType wtype;
  GgmlType act;     // partner activation format (= act_type_for(wtype))
  int sub;          // S: elements per sub-block (16 or 32)
  int off;          // the code offset
  bool mins;        // has a min term
  TileOrder order;
};
// nullptr: this type has no unpacker (the row-by-row kernels handle it).
const TileFormat* tile_format(GgmlType wtype);

struct WeightTile {
  int64_t n = 0;
  int sub = 32;
  std::vector<uint8_t> codes;   // n/4 × 32 × 4
  std::vector<float> sw, mw;    // n/S × 32 (mw empty without mins)
  // K8 order: integer sub-block scales and mins (n/S × 32), super-block d and dmin (n/256 × 32).
  std::vector<int32_t> isc, imn;
  std::vector<float> dsb, dmsb;
};

// Sizes t for rows of n elements: codes (contents left to the unpacker), scales and mins zeroed.
void tile_init(const TileFormat& f, int64_t n, WeightTile& t);

// Activations of T tokens repacked for the tile kernels.
struct ActPack {
  int64_t n = 0, tokens = 0;
  int sub = 32;
  std::vector<int8_t> codes;    // tokens × n
  std::vector<int32_t> init;    // tokens × n/S: −off · Σa
  std::vector<float> da, ma;    // tokens × n/S
  std::vector<int32_t> qinit;   // lane8 formats: tokens × n/4, −off · Σa over each quad
  std::vector<int32_t> bsum;    // Q8_K partners: tokens × n/16, Σa over each 16 (Q8_K's bsums)
};

// Sizes p for `tokens` rows of n elements; pack_token then quantizes row x as token t (scratch:
// one row in the partner format, per thread).
void pack_init(const TileFormat& f, int64_t n, int64_t tokens, ActPack& p);
void pack_token(const TileFormat& f, const float* x, int64_t t, ActPack& p, std::vector<uint8_t>& scratch);

// Unpacks rows row0 .. row0 + 31 of W (rows past W.out become zero) into tile.
using TileUnpackFn = void (*)(const TileFormat& f, const QMatrix& W, int64_t row0, WeightTile& tile);
// Y[t * ldy + row0 + r] for r < rows (≤ 32) and t in [t0, t1).
using TileGemmFn = void (*)(const TileFormat& f, const WeightTile& w, const ActPack& a, int64_t t0, int64_t t1,
                            float* Y, int64_t ldy, int64_t row0, int rows);

struct TileKernels {
  Isa isa;
  TileUnpackFn unpack;
  TileGemmFn gemm;
  const char* name;
};
// The kernels for exactly this ISA (nullptr: none for it); tests compare them.
const TileKernels* tile_kernels(Isa isa);

// Y (T × W.out) = X (T × W.in) · Wᵀ through the tile kernels of `isa`; false (nothing done)
// when W's type or the ISA has no tile path.
bool qtile_matmul(const QMatrix& W, const float* X, int64_t T, float* Y, Isa isa);

// Decode-sized batches (a few tokens) of Q4_0 / IQ4_NL / Q8_0 weights on AVX-512: each row straight
// from its blocks against the packed activations (qgemv_avx512.cc); false (nothing done) for
// other types or ISAs, where the row-by-row dot kernels run.
bool qgemv_matmul(const QMatrix& W, const float* X, int64_t T, float* Y, Isa isa);

}  // namespace lowbit
