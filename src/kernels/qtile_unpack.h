// Row decoders into the uniform tile layout (qtile.h), one per block format, and the tile
// unpacker built on them. Plain C++ included by qtile_ref.cc (baseline ISA) and by
// qtile_avx512.cc, where the compiler vectorizes the same loops; everything here has internal
// linkage, so each file keeps its own copy compiled for its own ISA.
//
// A decoder turns one row of n elements into codes u[n] (element order), sw[n/S] and, for
// types with mins, mw[n/S], such that the codec's dequantization is sw·(u − off) + mw
// evaluated in that order. Field offsets follow quant/codecs/blocks.h; scales are read with
// memcpy (rows may sit at any byte address).
#pragma once

#include <algorithm>
#include <cstring>
#ifdef __F16C__
#include <immintrin.h>
#endif

#include "core/half.h"
#include "kernels/qtile.h"
#include "quant/codecs/blocks.h"

namespace lowbit {
namespace {

inline float f16_at(const uint8_t* p) {
  uint16_t h;
  std::memcpy(&h, p, 2);
#ifdef __F16C__
  return _cvtsh_ss(h);   // the same value as f16_to_f32, one instruction
#else
  return f16_to_f32(h);
#endif
}

// Sixteen bytes as a GCC vector: plain element-wise code that compiles to SSE2 here and to
// AVX-512 instructions in qtile_avx512.cc (the compiler would not vectorize the byte loops).
typedef uint8_t V16 __attribute__((vector_size(16)));
inline V16 ld16(const uint8_t* p) { V16 v; std::memcpy(&v, p, 16); return v; }
inline void st16(uint8_t* p, V16 v) { std::memcpy(p, &v, 16); }
inline V16 splat(uint8_t b) { return V16{} + b; }

// Nibbles of a 32-element block (byte j: element j low, j + 16 high).
inline void nibbles32(const uint8_t* qs, uint8_t* u) {
  const V16 q = ld16(qs);
  st16(u, q & 15);
  st16(u + 16, q >> 4);
}

// The IQ4_NL grid + 128 (unsigned codes 1..241).
inline V16 iq4_map(V16 idx) {
  const V16 grid = {1, 24, 45, 63, 79, 93, 106, 118, 129, 141, 153, 166, 181, 197, 217, 241};
  return __builtin_shuffle(grid, idx);
}

inline void nibbles32_iq4(const uint8_t* qs, uint8_t* u) {
  const V16 q = ld16(qs);
  st16(u, iq4_map(q & 15));
  st16(u + 16, iq4_map(q >> 4));
}

void row_q4_0(const uint8_t* x, int64_t n, uint8_t* u, float* sw, float*) {
  for (int64_t b = 0; b < n / 32; ++b, x += sizeof(BlockQ4_0), u += 32) {
    sw[b] = f16_at(x);
    nibbles32(x + 2, u);
  }
}

void row_iq4_nl(const uint8_t* x, int64_t n, uint8_t* u, float* sw, float*) {
  for (int64_t b = 0; b < n / 32; ++b, x += sizeof(BlockIq4Nl), u += 32) {
    sw[b] = f16_at(x);
    nibbles32_iq4(x + 2, u);
  }
}

void row_q4_1(const uint8_t* x, int64_t n, uint8_t* u, float* sw, float* mw) {
  for (int64_t b = 0; b < n / 32; ++b, x += sizeof(BlockQ4_1), u += 32) {
    sw[b] = f16_at(x);
    mw[b] = f16_at(x + 2);
    nibbles32(x + 4, u);
  }
}

// Bit i of byte k of `bits`, for element 8k + i of a 32-element plane, as `val` or 0.
inline void or_bit_plane(const uint8_t* bits, int shift, uint8_t val, uint8_t* u) {
  const V16 sel = {1, 2, 4, 8, 16, 32, 64, 128, 1, 2, 4, 8, 16, 32, 64, 128};
  for (int h = 0; h < 2; ++h) {
    const uint8_t b0 = static_cast<uint8_t>(bits[2 * h] >> shift), b1 = static_cast<uint8_t>(bits[2 * h + 1] >> shift);
    const V16 b = {b0, b0, b0, b0, b0, b0, b0, b0, b1, b1, b1, b1, b1, b1, b1, b1};
    st16(u + 16 * h, ld16(u + 16 * h) | (((b & sel) != 0) & val));
  }
}

// Q5: the fifth bit of element j is bit j of the u32 qh.
void row_q5_0(const uint8_t* x, int64_t n, uint8_t* u, float* sw, float*) {
  for (int64_t b = 0; b < n / 32; ++b, x += sizeof(BlockQ5_0), u += 32) {
    sw[b] = f16_at(x);
    nibbles32(x + 6, u);
    or_bit_plane(x + 2, 0, 16, u);
  }
}

void row_q5_1(const uint8_t* x, int64_t n, uint8_t* u, float* sw, float* mw) {
  for (int64_t b = 0; b < n / 32; ++b, x += sizeof(BlockQ5_1), u += 32) {
    sw[b] = f16_at(x);
    mw[b] = f16_at(x + 2);
    nibbles32(x + 8, u);
    or_bit_plane(x + 4, 0, 16, u);
  }
}

void row_q8_0(const uint8_t* x, int64_t n, uint8_t* u, float* sw, float*) {
  for (int64_t b = 0; b < n / 32; ++b, x += sizeof(BlockQ8_0), u += 32) {
    sw[b] = f16_at(x);
    st16(u, ld16(x + 2) ^ 0x80);   // q + 128
    st16(u + 16, ld16(x + 18) ^ 0x80);
  }
}

// Q4_K / Q5_K: sub-block 2c (c = 0..3) is the low nibbles of qs[32c ..], 2c + 1 the high ones.
inline void k4_scales(const uint8_t* x, float* sw, float* mw) {
  const float d = f16_at(x), dmin = f16_at(x + 2);
  for (int j = 0; j < 8; ++j) {
    uint8_t sc, m;
    get_scale_min_k4(j, x + 4, &sc, &m);
    sw[j] = d * static_cast<float>(sc);
    mw[j] = -(dmin * static_cast<float>(m));
  }
}

void row_q4_k(const uint8_t* x, int64_t n, uint8_t* u, float* sw, float* mw) {
  for (int64_t b = 0; b < n / 256; ++b, x += sizeof(BlockQ4K), u += 256, sw += 8, mw += 8) {
    k4_scales(x, sw, mw);
    for (int c = 0; c < 4; ++c)
      for (int h = 0; h < 2; ++h) {
        const V16 q = ld16(x + 16 + 32 * c + 16 * h);
        st16(u + 64 * c + 16 * h, q & 15);
        st16(u + 64 * c + 32 + 16 * h, q >> 4);
      }
  }
}

// Q5_K's fifth bits: element 32k + l is bit k of qh[l].
void row_q5_k(const uint8_t* x, int64_t n, uint8_t* u, float* sw, float* mw) {
  for (int64_t b = 0; b < n / 256; ++b, x += sizeof(BlockQ5K), u += 256, sw += 8, mw += 8) {
    k4_scales(x, sw, mw);
    for (int c = 0; c < 4; ++c)
      for (int h = 0; h < 2; ++h) {
        const V16 q = ld16(x + 48 + 32 * c + 16 * h), qh = ld16(x + 16 + 16 * h);
        st16(u + 64 * c + 16 * h, (q & 15) | (((qh >> (2 * c)) & 1) << 4));
        st16(u + 64 * c + 32 + 16 * h, (q >> 4) | (((qh >> (2 * c + 1)) & 1) << 4));
      }
  }
}

void row_q6_k(const uint8_t* x, int64_t n, uint8_t* u, float* sw, float*) {
  for (int64_t b = 0; b < n / 256; ++b, x += sizeof(BlockQ6K), u += 256, sw += 16) {
    const float d = f16_at(x + 208);
    for (int s = 0; s < 16; ++s) sw[s] = d * static_cast<float>(static_cast<int8_t>(x[192 + s]));
    for (int h = 0; h < 2; ++h)
      for (int l = 0; l < 32; l += 16) {
        const V16 a = ld16(x + 64 * h + l), c = ld16(x + 64 * h + 32 + l), qh = ld16(x + 128 + 32 * h + l);
        uint8_t* o = u + 128 * h + l;
        st16(o, (a & 15) | ((qh & 3) << 4));
        st16(o + 32, (c & 15) | (((qh >> 2) & 3) << 4));
        st16(o + 64, (a >> 4) | (((qh >> 4) & 3) << 4));
        st16(o + 96, (c >> 4) | (((qh >> 6) & 3) << 4));
      }
  }
}

// Q2_K / Q3_K low bits: in half h, bits 2k..2k+1 of byte l hold element 128h + 32k + l.
inline void two_bit_planes(const uint8_t* qs, uint8_t* u) {
  for (int h = 0; h < 2; ++h)
    for (int l = 0; l < 32; l += 16) {
      const V16 q = ld16(qs + 32 * h + l);
      for (int k = 0; k < 4; ++k) st16(u + 128 * h + 32 * k + l, (q >> (2 * k)) & 3);
    }
}

// Q3_K's high bits: element e is bit e / 32 of hmask[e % 32].
void row_q3_k(const uint8_t* x, int64_t n, uint8_t* u, float* sw, float*) {
  for (int64_t b = 0; b < n / 256; ++b, x += sizeof(BlockQ3K), u += 256, sw += 16) {
    const float d = f16_at(x + 108);
    const uint8_t* sc = x + 96;
    for (int j = 0; j < 16; ++j) {
      const int lo = j < 8 ? sc[j] & 15 : sc[j - 8] >> 4;
      sw[j] = d * static_cast<float>((lo | ((sc[8 + j % 4] >> (2 * (j / 4))) & 3) << 4) - 32);
    }
    two_bit_planes(x + 32, u);
    for (int k = 0; k < 8; ++k)
      for (int l = 0; l < 32; l += 16) st16(u + 32 * k + l, ld16(u + 32 * k + l) | (((ld16(x + l) >> k) & 1) << 2));
  }
}

void row_q2_k(const uint8_t* x, int64_t n, uint8_t* u, float* sw, float* mw) {
  for (int64_t b = 0; b < n / 256; ++b, x += sizeof(BlockQ2K), u += 256, sw += 16, mw += 16) {
    const float d = f16_at(x + 80), dmin = f16_at(x + 82);
    for (int j = 0; j < 16; ++j) {
      sw[j] = d * static_cast<float>(x[j] & 15);
      mw[j] = -(dmin * static_cast<float>(x[j] >> 4));
    }
    two_bit_planes(x + 16, u);
  }
}

void row_iq4_xs(const uint8_t* x, int64_t n, uint8_t* u, float* sw, float*) {
  for (int64_t b = 0; b < n / 256; ++b, x += sizeof(BlockIq4Xs), u += 256, sw += 8) {
    const float d = f16_at(x);
    uint16_t sh;
    std::memcpy(&sh, x + 2, 2);
    for (int j = 0; j < 8; ++j) {
      const int ls = ((x[4 + j / 2] >> 4 * (j % 2)) & 15) | ((sh >> 2 * j) & 3) << 4;
      sw[j] = d * static_cast<float>(ls - 32);
      nibbles32_iq4(x + 8 + 16 * j, u + 32 * j);
    }
  }
}

// TQ2_0: t + 1 in 0..2; in chunk c, bits 2k..2k+1 of byte m = element 128c + 32k + m.
void row_tq2_0(const uint8_t* x, int64_t n, uint8_t* u, float* sw, float*) {
  for (int64_t b = 0; b < n / 256; ++b, x += sizeof(BlockTq2_0), u += 256, sw += 8) {
    const float d = f16_at(x + 64);
    for (int j = 0; j < 8; ++j) sw[j] = d;
    two_bit_planes(x, u);
  }
}

// The integer scales of the K8 order (qtile.h) for row r of the tile: Q6_K's int8 sc per 16
// and d; Q3_K's 6-bit sc − 32 per 16 and d; IQ4_XS's 6-bit sc − 32 per 32 and d; Q5_K's
// and Q4_K's 6-bit sc and m per 32, Q2_K's 4-bit sc and m per 16, d and dmin; TQ2_0's d (sc = 1).
inline void k8_int_scales(GgmlType type, const uint8_t* x, int64_t n, int r, WeightTile& t) {
  if (type == GgmlType::Q6_K) {
    for (int64_t b = 0; b < n / 256; ++b, x += sizeof(BlockQ6K)) {
      t.dsb[b * kTileRows + r] = f16_at(x + 208);
      for (int s = 0; s < 16; ++s) t.isc[(16 * b + s) * kTileRows + r] = static_cast<int8_t>(x[192 + s]);
    }
    return;
  }
  if (type == GgmlType::TQ2_0 || type == GgmlType::TQ1_0) {
    const bool tq1 = type == GgmlType::TQ1_0;
    for (int64_t b = 0; b < n / 256; ++b, x += tq1 ? sizeof(BlockTq1_0) : sizeof(BlockTq2_0)) {
      t.dsb[b * kTileRows + r] = f16_at(x + (tq1 ? 52 : 64));
      for (int j = 0; j < 8; ++j) t.isc[(8 * b + j) * kTileRows + r] = 1;
    }
    return;
  }
  if (type == GgmlType::Q2_K) {
    for (int64_t b = 0; b < n / 256; ++b, x += sizeof(BlockQ2K)) {
      t.dsb[b * kTileRows + r] = f16_at(x + 80);
      t.dmsb[b * kTileRows + r] = f16_at(x + 82);
      for (int j = 0; j < 16; ++j) {
        t.isc[(16 * b + j) * kTileRows + r] = x[j] & 15;
        t.imn[(16 * b + j) * kTileRows + r] = x[j] >> 4;
      }
    }
    return;
  }
  if (type == GgmlType::IQ4_XS) {
    for (int64_t b = 0; b < n / 256; ++b, x += sizeof(BlockIq4Xs)) {
      t.dsb[b * kTileRows + r] = f16_at(x);
      uint16_t sh;
      std::memcpy(&sh, x + 2, 2);
      for (int j = 0; j < 8; ++j)
        t.isc[(8 * b + j) * kTileRows + r] = (((x[4 + j / 2] >> 4 * (j % 2)) & 15) | ((sh >> 2 * j) & 3) << 4) - 32;
    }
    return;
  }
  if (type == GgmlType::Q3_K) {
    for (int64_t b = 0; b < n / 256; ++b, x += sizeof(BlockQ3K)) {
      t.dsb[b * kTileRows + r] = f16_at(x + 108);
      const uint8_t* sc = x + 96;
      for (int j = 0; j < 16; ++j) {
        const int lo = j < 8 ? sc[j] & 15 : sc[j - 8] >> 4;
        t.isc[(16 * b + j) * kTileRows + r] = (lo | ((sc[8 + j % 4] >> (2 * (j / 4))) & 3) << 4) - 32;
      }
    }
    return;
  }
  const size_t bytes = type == GgmlType::Q4_K ? sizeof(BlockQ4K) : sizeof(BlockQ5K);
  for (int64_t b = 0; b < n / 256; ++b, x += bytes) {   // Q4_K, Q5_K
    t.dsb[b * kTileRows + r] = f16_at(x);
    t.dmsb[b * kTileRows + r] = f16_at(x + 2);
    for (int s = 0; s < 8; ++s) {
      uint8_t sc, m;
      get_scale_min_k4(s, x + 4, &sc, &m);
      t.isc[(8 * b + s) * kTileRows + r] = sc;
      t.imn[(8 * b + s) * kTileRows + r] = m;
    }
  }
}

// TQ1_0: t + 1 in 0..2 from base-3 digits (blocks.h): digit k of byte q is ((q·3^k) mod 256)·3 >> 8.
inline uint8_t tq1_digit(uint8_t q, int k) {
  static constexpr uint8_t kPow3[6] = {1, 3, 9, 27, 81, 243};
  const uint8_t v = static_cast<uint8_t>(q * kPow3[k]);
  return static_cast<uint8_t>((static_cast<uint16_t>(v) * 3) >> 8);
}

void row_tq1_0(const uint8_t* x, int64_t n, uint8_t* u, float* sw, float*) {
  for (int64_t b = 0; b < n / 256; ++b, x += sizeof(BlockTq1_0), sw += 8) {
    const float d = f16_at(x + 52);
    for (int j = 0; j < 8; ++j) sw[j] = d;
    for (int k = 0; k < 5; ++k)
      for (int m = 0; m < 32; ++m) *u++ = tq1_digit(x[m], k);
    for (int k = 0; k < 5; ++k)
      for (int m = 0; m < 16; ++m) *u++ = tq1_digit(x[32 + m], k);
    for (int k = 0; k < 4; ++k)
      for (int j = 0; j < 4; ++j) *u++ = tq1_digit(x[48 + j], k);
  }
}

using RowDecoder = void (*)(const uint8_t* row, int64_t n, uint8_t* u, float* sw, float* mw);

RowDecoder row_decoder(GgmlType t) {
  switch (t) {
    case GgmlType::Q4_0: return row_q4_0;
    case GgmlType::Q4_1: return row_q4_1;
    case GgmlType::Q5_0: return row_q5_0;
    case GgmlType::Q5_1: return row_q5_1;
    case GgmlType::Q8_0: return row_q8_0;
    case GgmlType::IQ4_NL: return row_iq4_nl;
    case GgmlType::Q2_K: return row_q2_k;
    case GgmlType::Q3_K: return row_q3_k;
    case GgmlType::Q4_K: return row_q4_k;
    case GgmlType::Q5_K: return row_q5_k;
    case GgmlType::Q6_K: return row_q6_k;
    case GgmlType::IQ4_XS: return row_iq4_xs;
    case GgmlType::TQ2_0: return row_tq2_0;
    case GgmlType::TQ1_0: return row_tq1_0;
    default: return nullptr;
  }
}

// Decodes rows row0 .. row0 + 31 into staging (32 rows of n codes, row-major) and the tile's
// scales, then `interleave(staging, n, tile.codes)` puts four codes of row r at byte 4r of each
// 128-byte group. Rows past W.out are zero (codes, scales and mins).
template <class Interleave>
void unpack_tile_rows(const TileFormat& f, const QMatrix& W, int64_t row0, WeightTile& t, Interleave interleave) {
  const int64_t n = W.in, nsub = n / f.sub;
  tile_init(f, n, t);
  thread_local std::vector<uint8_t> staging;
  thread_local std::vector<float> sw, mw;
  staging.resize(static_cast<size_t>(n) * kTileRows);
  sw.resize(nsub);
  mw.resize(nsub);
  const RowDecoder decode = row_decoder(f.wtype);
  const int rows = static_cast<int>(std::min<int64_t>(kTileRows, W.out - row0));
  for (int r = 0; r < rows; ++r) {
    const uint8_t* row = W.data + (row0 + r) * W.row_bytes;
    decode(row, n, staging.data() + r * n, sw.data(), mw.data());
    for (int64_t s = 0; s < nsub; ++s) t.sw[s * kTileRows + r] = sw[s];
    if (f.order == TileOrder::K8) k8_int_scales(f.wtype, row, n, r, t);
    if (f.mins)
      for (int64_t s = 0; s < nsub; ++s) t.mw[s * kTileRows + r] = mw[s];
  }
  std::memset(staging.data() + rows * n, 0, static_cast<size_t>((kTileRows - rows) * n));
  interleave(staging.data(), n, t.codes.data());
}

// The plain interleave: one 4-byte copy per row and group.
inline void interleave_plain(const uint8_t* staging, int64_t n, uint8_t* codes) {
  for (int r = 0; r < kTileRows; ++r)
    for (int64_t k = 0; k < n / 4; ++k) std::memcpy(codes + 128 * k + 4 * r, staging + r * n + 4 * k, 4);
}

}  // namespace
}  // namespace lowbit
