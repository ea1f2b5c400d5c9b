// The GGUF block structs, byte for byte as ggml lays them out (ggml/src/ggml-common.h).
// Every field is little endian; `f16` fields are IEEE half bits (core/half.h). A tensor row
// of n elements is n / block_size of these blocks back to back, no padding between them.
//
// Two families:
//  - 32-element blocks (Q4_0 ... Q8_1, IQ4_NL): one f16 scale (and for the _1 types a min),
//    then the codes. "Element j and j+16 share byte j" is the nibble layout of all of them.
//  - 256-element super-blocks (the K-quants, IQ4_XS, the ternary types): sub-blocks of 16 or
//    32 elements, each with a small integer scale, times one f16 super-scale. K-quants exist
//    because one f16 per 32 weights costs 0.5 bit/weight; 6-bit sub-scales cost far less.
//
// The scale conventions follow ggml exactly (some store d = max/-8, negative), because
// dequantization must match llama.cpp bit for bit.
#pragma once

#include <cstdint>

namespace lowbit {

constexpr int kQK32 = 32;    // QK4_0 = QK4_1 = QK5_0 = QK5_1 = QK8_0 = QK8_1 = QK4_NL
constexpr int kQKK = 256;    // QK_K: the K-quant super-block

// ---------------------------------------------------------------------------------------
// Q4_0 (18 bytes / 32, 4.5 bpw): x = d * (q - 8), q in 0..15.
//   0  f16 d        d = max / -8 (max: the element of largest magnitude, with its sign)
//   2  u8 qs[16]    byte j: low nibble = element j, high nibble = element j + 16
struct BlockQ4_0 {
  uint16_t d;
  uint8_t qs[kQK32 / 2];
};
static_assert(sizeof(BlockQ4_0) == 18);

// Q4_1 (20 bytes / 32, 5 bpw): x = d * q + m, q in 0..15.
//   0  f16 d   2  f16 m (the block minimum)   4  u8 qs[16] (nibbles as Q4_0)
struct BlockQ4_1 {
  uint16_t d;
  uint16_t m;
  uint8_t qs[kQK32 / 2];
};
static_assert(sizeof(BlockQ4_1) == 20);

// Q5_0 (22 bytes / 32, 5.5 bpw): x = d * (q - 16), q in 0..31.
//   0  f16 d
//   2  u8 qh[4]     bit j of the little-endian u32 = bit 4 of element j's code
//   6  u8 qs[16]    low 4 bits, nibbles as Q4_0
struct BlockQ5_0 {
  uint16_t d;
  uint8_t qh[4];
  uint8_t qs[kQK32 / 2];
};
static_assert(sizeof(BlockQ5_0) == 22);

// Q5_1 (24 bytes / 32, 6 bpw): x = d * q + m, q in 0..31.
//   0  f16 d   2  f16 m   4  u8 qh[4] (as Q5_0)   8  u8 qs[16]
struct BlockQ5_1 {
  uint16_t d;
  uint16_t m;
  uint8_t qh[4];
  uint8_t qs[kQK32 / 2];
};
static_assert(sizeof(BlockQ5_1) == 24);

// Q8_0 (34 bytes / 32, 8.5 bpw): x = d * q, q in -127..127, d = amax / 127.
//   0  f16 d   2  i8 qs[32] (element order)
struct BlockQ8_0 {
  uint16_t d;
  int8_t qs[kQK32];
};
static_assert(sizeof(BlockQ8_0) == 34);

// Q8_1 (36 bytes / 32): Q8_0 plus s = d * sum(qs), so a dot product with an affine
// (Q4_1/Q5_1) weight can add the min term without touching the codes. An activation format.
//   0  f16 d   2  f16 s   4  i8 qs[32]
struct BlockQ8_1 {
  uint16_t d;
  uint16_t s;
  int8_t qs[kQK32];
};
static_assert(sizeof(BlockQ8_1) == 36);

// IQ4_NL (18 bytes / 32, 4.5 bpw): x = d * kIq4nlValues[q]: a non-uniform 16-level grid
// (denser near zero, like a normal distribution's quantiles).
//   0  f16 d   2  u8 qs[16] (nibbles as Q4_0)
struct BlockIq4Nl {
  uint16_t d;
  uint8_t qs[kQK32 / 2];
};
static_assert(sizeof(BlockIq4Nl) == 18);

// The IQ4_NL / IQ4_XS grid (ggml's kvalues_iq4nl), sorted.
inline constexpr int8_t kIq4nlValues[16] = {-127, -104, -83, -65, -49, -35, -22, -10,
                                            1,    13,   25,  38,  53,  69,  89,  113};

// ---------------------------------------------------------------------------------------
// Q2_K (84 bytes / 256, 2.625 bpw): 16 sub-blocks of 16; x = d*sc*q - dmin*m, q in 0..3.
//   0   u8 scales[16]   sub-block s: low nibble = sc (4-bit scale), high nibble = m (4-bit min)
//   16  u8 qs[64]       two halves of 128 elements; in half h, byte l (0..31) holds elements
//                       128h + l + 32k in bits 2k..2k+1 (k = 0..3)
//   80  f16 d   82 f16 dmin
struct BlockQ2K {
  uint8_t scales[kQKK / 16];
  uint8_t qs[kQKK / 4];
  uint16_t d;
  uint16_t dmin;
};
static_assert(sizeof(BlockQ2K) == 84);

// Q3_K (110 bytes / 256, 3.4375 bpw): 16 sub-blocks of 16; x = d * (sc - 32) * (q - 4),
// q in 0..7 split as 2 low bits (qs, laid out as Q2_K) and 1 high bit (hmask).
//   0   u8 hmask[32]    element e: bit (e / 32) of byte (e % 32)
//   32  u8 qs[64]       low 2 bits, as Q2_K
//   96  u8 scales[12]   sixteen 6-bit scales: low 4 bits of scale s in byte s%8 (low nibble
//                       for s < 8, high for s >= 8); high 2 bits in byte 8 + s%4, bits 2*(s/4)
//   108 f16 d
struct BlockQ3K {
  uint8_t hmask[kQKK / 8];
  uint8_t qs[kQKK / 4];
  uint8_t scales[12];
  uint16_t d;
};
static_assert(sizeof(BlockQ3K) == 110);

// Q4_K (144 bytes / 256, 4.5 bpw): 8 sub-blocks of 32; x = d*sc*q - dmin*m, q in 0..15.
//   0  f16 d   2 f16 dmin
//   4  u8 scales[12]  eight 6-bit (sc, m) pairs, unpacked by get_scale_min_k4:
//                     j < 4:  sc = b[j] & 63, m = b[j+4] & 63
//                     j >= 4: sc = (b[j+4] & 15) | (b[j-4] >> 6) << 4,
//                             m  = (b[j+4] >> 4) | (b[j] >> 6) << 4
//   16 u8 qs[128]     four chunks of 64 elements; chunk c, byte l (0..31): low nibble =
//                     element 64c + l, high nibble = element 64c + 32 + l
struct BlockQ4K {
  uint16_t d;
  uint16_t dmin;
  uint8_t scales[12];
  uint8_t qs[kQKK / 2];
};
static_assert(sizeof(BlockQ4K) == 144);

// Q5_K (176 bytes / 256, 5.5 bpw): Q4_K plus a fifth bit; q in 0..31.
//   0  f16 d   2 f16 dmin   4 u8 scales[12] (as Q4_K)
//   16 u8 qh[32]      element 32k + l (k = 0..7): bit k of byte l
//   48 u8 qs[128]     low 4 bits, as Q4_K
struct BlockQ5K {
  uint16_t d;
  uint16_t dmin;
  uint8_t scales[12];
  uint8_t qh[kQKK / 8];
  uint8_t qs[kQKK / 2];
};
static_assert(sizeof(BlockQ5K) == 176);

// Q6_K (210 bytes / 256, 6.5625 bpw): 16 sub-blocks of 16; x = d * sc * (q - 32), q in 0..63.
//   0   u8 ql[128]    two halves of 128; in half h (ql + 64h), byte l (0..31): low nibble =
//                     element 128h + l, high = 128h + 64 + l; byte 32 + l: low = 128h + 32 + l,
//                     high = 128h + 96 + l
//   128 u8 qh[64]     half h (qh + 32h), byte l: bits 2k..2k+1 = high 2 bits of 128h + 32k + l
//   192 i8 scales[16] signed 8-bit sub-block scales
//   208 f16 d
struct BlockQ6K {
  uint8_t ql[kQKK / 2];
  uint8_t qh[kQKK / 4];
  int8_t scales[kQKK / 16];
  uint16_t d;
};
static_assert(sizeof(BlockQ6K) == 210);

// Q8_K (292 bytes / 256): the K-quants' activation format; a float scale (not f16) and the
// sums of each 16 codes, which the K-quant dot products need for their min terms.
//   0  f32 d   4 i8 qs[256]   260 i16 bsums[16]
struct BlockQ8K {
  float d;
  int8_t qs[kQKK];
  int16_t bsums[kQKK / 16];
};
static_assert(sizeof(BlockQ8K) == 292);

// IQ4_XS (136 bytes / 256, 4.25 bpw): 8 sub-blocks of 32; x = d * (ls - 32) * kIq4nlValues[q].
//   0  f16 d
//   2  u16 scales_h   bits 2s..2s+1 = high 2 bits of sub-block s's 6-bit ls
//   4  u8 scales_l[4] sub-block s: nibble s%2 of byte s/2 = low 4 bits of ls
//   8  u8 qs[128]     sub-block s at qs + 16s, nibbles as Q4_0 (j and j + 16)
struct BlockIq4Xs {
  uint16_t d;
  uint16_t scales_h;
  uint8_t scales_l[kQKK / 64];
  uint8_t qs[kQKK / 2];
};
static_assert(sizeof(BlockIq4Xs) == 136);

// TQ1_0 (54 bytes / 256, 1.6875 bpw): ternary x = d * t, t in {-1, 0, 1}, stored t + 1 as
// base-3 digits, five per byte (3^5 = 243 < 256), as a fixed-point fraction: byte =
// ceil(v * 256 / 243) for the 5-digit number v, so digit n is ((byte * 3^n) mod 256) * 3 >> 8.
//   0   u8 qs[48]   bytes 0..31: digit n of byte m = element 32n + m (elements 0..159);
//                   bytes 32..47: digit n of byte 32 + m = element 160 + 16n + m (160..239)
//   48  u8 qh[4]    four digits per byte (the fifth is 0): digit n of byte j = element
//                   240 + 4n + j
//   52  f16 d       d = amax
struct BlockTq1_0 {
  uint8_t qs[(kQKK - 4 * kQKK / 64) / 5];
  uint8_t qh[kQKK / 64];
  uint16_t d;
};
static_assert(sizeof(BlockTq1_0) == 54);

// TQ2_0 (66 bytes / 256, 2.0625 bpw): ternary, two bits per element (t + 1 in 0..2).
//   0   u8 qs[64]   two chunks of 128; chunk c, byte m (0..31): bits 2n..2n+1 = element
//                   128c + 32n + m
//   64  f16 d       d = amax
struct BlockTq2_0 {
  uint8_t qs[kQKK / 4];
  uint16_t d;
};
static_assert(sizeof(BlockTq2_0) == 66);

// The 6-bit (scale, min) pair j of a Q4_K / Q5_K block (ggml's get_scale_min_k4).
inline void get_scale_min_k4(int j, const uint8_t* q, uint8_t* sc, uint8_t* m) {
  if (j < 4) {
    *sc = q[j] & 63;
    *m = q[j + 4] & 63;
  } else {
    *sc = static_cast<uint8_t>((q[j + 4] & 0xF) | ((q[j - 4] >> 6) << 4));
    *m = static_cast<uint8_t>((q[j + 4] >> 4) | ((q[j] >> 6) << 4));
  }
}

// Packs the eight 6-bit (scale, min) pairs of a Q4_K / Q5_K block (inverse of the above).
inline void set_scale_min_k4(const uint8_t* ls, const uint8_t* lm, uint8_t* q) {
  for (int j = 0; j < 4; ++j) {
    q[j] = ls[j];
    q[j + 4] = lm[j];
  }
  for (int j = 4; j < 8; ++j) {
    q[j + 4] = static_cast<uint8_t>((ls[j] & 0xF) | ((lm[j] & 0xF) << 4));
    q[j - 4] |= static_cast<uint8_t>((ls[j] >> 4) << 6);
    q[j] |= static_cast<uint8_t>((lm[j] >> 4) << 6);
  }
}

}  // namespace lowbit
