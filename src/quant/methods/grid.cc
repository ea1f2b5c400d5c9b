// One row per block type: its level range, how its scale fields decode into per-element
// grids, and how its codes are read and written. The code layouts are those of blocks.h; the
// scale arithmetic copies each codec's dequantize_row operation for operation (see grid.h).
#include "quant/methods/grid.h"

#include <cmath>
#include <cstring>
#include <limits>

#include "core/error.h"
#include "core/half.h"
#include "quant/codecs/blocks.h"
#include "quant/codecs/scale_search.h"

namespace lowbit {
namespace {

constexpr float kNegZero = -0.0f;

// ---- 32-element blocks: one scale (and for the _1 types a min) for the whole block --------

void fill(ElementGrid* g, int n, float scale, float offset) {
  for (int i = 0; i < n; ++i) {
    g[i].scale = scale;
    g[i].offset = offset;
  }
}

// Nibble codes as Q4_0 / Q4_1 / IQ4_NL: byte j holds element j (low) and j + 16 (high).
void get_nibbles32(const uint8_t* qs, int bias, int* q) {
  for (int j = 0; j < 16; ++j) {
    q[j] = (qs[j] & 0xF) - bias;
    q[j + 16] = (qs[j] >> 4) - bias;
  }
}
void set_nibbles32(const int* q, int bias, uint8_t* qs) {
  for (int j = 0; j < 16; ++j) qs[j] = static_cast<uint8_t>((q[j] + bias) | ((q[j + 16] + bias) << 4));
}

// Five-bit codes as Q5_0 / Q5_1: low nibbles as above, bit 4 of element j in bit j of qh.
void get_q5(const uint8_t* qs, const uint8_t* qh_bytes, int bias, int* q) {
  uint32_t qh;
  std::memcpy(&qh, qh_bytes, 4);
  for (int j = 0; j < 16; ++j) {
    q[j] = ((qs[j] & 0xF) | static_cast<int>(((qh >> j) & 1) << 4)) - bias;
    q[j + 16] = ((qs[j] >> 4) | static_cast<int>(((qh >> (j + 16)) & 1) << 4)) - bias;
  }
}
void set_q5(const int* q, int bias, uint8_t* qs, uint8_t* qh_bytes) {
  uint32_t qh = 0;
  for (int j = 0; j < 16; ++j) {
    const int a = q[j] + bias, b = q[j + 16] + bias;
    qs[j] = static_cast<uint8_t>((a & 0xF) | ((b & 0xF) << 4));
    qh |= static_cast<uint32_t>((a >> 4) & 1) << j;
    qh |= static_cast<uint32_t>((b >> 4) & 1) << (j + 16);
  }
  std::memcpy(qh_bytes, &qh, 4);
}

void grids_q4_0(const void* v, ElementGrid* g) { fill(g, kQK32, f16_to_f32(static_cast<const BlockQ4_0*>(v)->d), kNegZero); }
void get_q4_0(const void* v, int* q) { get_nibbles32(static_cast<const BlockQ4_0*>(v)->qs, 8, q); }
void set_q4_0(void* v, const int* q) { set_nibbles32(q, 8, static_cast<BlockQ4_0*>(v)->qs); }

void grids_q4_1(const void* v, ElementGrid* g) {
  const auto* b = static_cast<const BlockQ4_1*>(v);
  fill(g, kQK32, f16_to_f32(b->d), f16_to_f32(b->m));  // q·d + m
}
void get_q4_1(const void* v, int* q) { get_nibbles32(static_cast<const BlockQ4_1*>(v)->qs, 0, q); }
void set_q4_1(void* v, const int* q) { set_nibbles32(q, 0, static_cast<BlockQ4_1*>(v)->qs); }

void grids_q5_0(const void* v, ElementGrid* g) { fill(g, kQK32, f16_to_f32(static_cast<const BlockQ5_0*>(v)->d), kNegZero); }
void get_q5_0(const void* v, int* q) {
  const auto* b = static_cast<const BlockQ5_0*>(v);
  get_q5(b->qs, b->qh, 16, q);
}
void set_q5_0(void* v, const int* q) {
  auto* b = static_cast<BlockQ5_0*>(v);
  set_q5(q, 16, b->qs, b->qh);
}

void grids_q5_1(const void* v, ElementGrid* g) {
  const auto* b = static_cast<const BlockQ5_1*>(v);
  fill(g, kQK32, f16_to_f32(b->d), f16_to_f32(b->m));
}
void get_q5_1(const void* v, int* q) {
  const auto* b = static_cast<const BlockQ5_1*>(v);
  get_q5(b->qs, b->qh, 0, q);
}
void set_q5_1(void* v, const int* q) {
  auto* b = static_cast<BlockQ5_1*>(v);
  set_q5(q, 0, b->qs, b->qh);
}

void grids_q8_0(const void* v, ElementGrid* g) { fill(g, kQK32, f16_to_f32(static_cast<const BlockQ8_0*>(v)->d), kNegZero); }
void get_q8_0(const void* v, int* q) {
  for (int j = 0; j < kQK32; ++j) q[j] = static_cast<const BlockQ8_0*>(v)->qs[j];
}
void set_q8_0(void* v, const int* q) {
  for (int j = 0; j < kQK32; ++j) static_cast<BlockQ8_0*>(v)->qs[j] = static_cast<int8_t>(q[j]);
}

void grids_iq4_nl(const void* v, ElementGrid* g) { fill(g, kQK32, f16_to_f32(static_cast<const BlockIq4Nl*>(v)->d), kNegZero); }
void get_iq4_nl(const void* v, int* q) { get_nibbles32(static_cast<const BlockIq4Nl*>(v)->qs, 0, q); }
void set_iq4_nl(void* v, const int* q) { set_nibbles32(q, 0, static_cast<BlockIq4Nl*>(v)->qs); }

// ---- 256-element super-blocks --------------------------------------------------------------

// Two-bit planes as Q2_K / Q3_K's low bits: element e in byte 32·(e/128) + e%32, bits
// 2·((e%128)/32).
int get_2bit(const uint8_t* qs, int e) { return (qs[32 * (e / 128) + e % 32] >> (2 * ((e % 128) / 32))) & 3; }
void set_2bit(const int* lo, uint8_t* qs) {
  std::memset(qs, 0, kQKK / 4);
  for (int e = 0; e < kQKK; ++e) qs[32 * (e / 128) + e % 32] |= static_cast<uint8_t>(lo[e] << (2 * ((e % 128) / 32)));
}

void grids_q2_k(const void* v, ElementGrid* g) {
  const auto* b = static_cast<const BlockQ2K*>(v);
  const float d = f16_to_f32(b->d), min = f16_to_f32(b->dmin);
  for (int s = 0; s < kQKK / 16; ++s) {
    const float dl = d * static_cast<float>(b->scales[s] & 0xF);
    const float ml = min * static_cast<float>(b->scales[s] >> 4);
    fill(g + 16 * s, 16, dl, -ml);  // dl·q − ml
  }
}
void get_q2_k(const void* v, int* q) {
  for (int e = 0; e < kQKK; ++e) q[e] = get_2bit(static_cast<const BlockQ2K*>(v)->qs, e);
}
void set_q2_k(void* v, const int* q) { set_2bit(q, static_cast<BlockQ2K*>(v)->qs); }

// The signed 6-bit scale (sc − 32) of Q3_K sub-block j (blocks.h).
int q3_k_scale(const uint8_t* scales, int j) {
  const int lo = j < 8 ? scales[j] & 0xF : scales[j - 8] >> 4;
  return (lo | (((scales[8 + j % 4] >> (2 * (j / 4))) & 3) << 4)) - 32;
}
void grids_q3_k(const void* v, ElementGrid* g) {
  const auto* b = static_cast<const BlockQ3K*>(v);
  const float d_all = f16_to_f32(b->d);
  for (int s = 0; s < kQKK / 16; ++s) fill(g + 16 * s, 16, d_all * static_cast<float>(q3_k_scale(b->scales, s)), kNegZero);
}
// q = low two bits + 4·(hmask bit) − 4: the decoder subtracts 4 when the high bit is clear.
void get_q3_k(const void* v, int* q) {
  const auto* b = static_cast<const BlockQ3K*>(v);
  for (int e = 0; e < kQKK; ++e) q[e] = get_2bit(b->qs, e) + 4 * ((b->hmask[e % 32] >> (e / 32)) & 1) - 4;
}
void set_q3_k(void* v, const int* q) {
  auto* b = static_cast<BlockQ3K*>(v);
  int lo[kQKK];
  std::memset(b->hmask, 0, sizeof(b->hmask));
  for (int e = 0; e < kQKK; ++e) {
    const int l = q[e] + 4;  // 0..7
    lo[e] = l & 3;
    b->hmask[e % 32] |= static_cast<uint8_t>((l >> 2) << (e / 32));
  }
  set_2bit(lo, b->qs);
}

// Q4_K / Q5_K nibbles: element e in byte 32·(e/64) + e%32, high nibble when (e%64) ≥ 32.
int get_k_nibble(const uint8_t* qs, int e) { return (qs[32 * (e / 64) + e % 32] >> (4 * ((e % 64) / 32))) & 0xF; }
void set_k_nibbles(const int* q, uint8_t* qs) {
  std::memset(qs, 0, kQKK / 2);
  for (int e = 0; e < kQKK; ++e) qs[32 * (e / 64) + e % 32] |= static_cast<uint8_t>((q[e] & 0xF) << (4 * ((e % 64) / 32)));
}
// d·sc and −dmin·m of the eight 32-element sub-blocks of a Q4_K / Q5_K block.
void grids_k_affine(uint16_t d16, uint16_t dmin16, const uint8_t* scales, ElementGrid* g) {
  const float d = f16_to_f32(d16), min = f16_to_f32(dmin16);
  for (int s = 0; s < kQKK / 32; ++s) {
    uint8_t sc, m;
    get_scale_min_k4(s, scales, &sc, &m);
    const float dl = d * static_cast<float>(sc), ml = min * static_cast<float>(m);
    fill(g + 32 * s, 32, dl, -ml);
  }
}

void grids_q4_k(const void* v, ElementGrid* g) {
  const auto* b = static_cast<const BlockQ4K*>(v);
  grids_k_affine(b->d, b->dmin, b->scales, g);
}
void get_q4_k(const void* v, int* q) {
  for (int e = 0; e < kQKK; ++e) q[e] = get_k_nibble(static_cast<const BlockQ4K*>(v)->qs, e);
}
void set_q4_k(void* v, const int* q) { set_k_nibbles(q, static_cast<BlockQ4K*>(v)->qs); }

void grids_q5_k(const void* v, ElementGrid* g) {
  const auto* b = static_cast<const BlockQ5K*>(v);
  grids_k_affine(b->d, b->dmin, b->scales, g);
}
// Bit 4 of element e = 32k + l is bit k of qh[l].
void get_q5_k(const void* v, int* q) {
  const auto* b = static_cast<const BlockQ5K*>(v);
  for (int e = 0; e < kQKK; ++e) q[e] = get_k_nibble(b->qs, e) | (((b->qh[e % 32] >> (e / 32)) & 1) << 4);
}
void set_q5_k(void* v, const int* q) {
  auto* b = static_cast<BlockQ5K*>(v);
  set_k_nibbles(q, b->qs);
  std::memset(b->qh, 0, sizeof(b->qh));
  for (int e = 0; e < kQKK; ++e) b->qh[e % 32] |= static_cast<uint8_t>(((q[e] >> 4) & 1) << (e / 32));
}

// Q6_K: element e = 128h + 32k + l: low nibble in ql[64h + l + 32·(k&1)] (high nibble when
// k ≥ 2), top two bits in qh[32h + l] at bits 2k; code = q + 32.
void grids_q6_k(const void* v, ElementGrid* g) {
  const auto* b = static_cast<const BlockQ6K*>(v);
  const float d = f16_to_f32(b->d);
  for (int s = 0; s < kQKK / 16; ++s) fill(g + 16 * s, 16, d * static_cast<float>(b->scales[s]), kNegZero);  // (d·sc)·q
}
void get_q6_k(const void* v, int* q) {
  const auto* b = static_cast<const BlockQ6K*>(v);
  for (int e = 0; e < kQKK; ++e) {
    const int h = e / 128, k = (e % 128) / 32, l = e % 32;
    const int lo = (b->ql[64 * h + l + 32 * (k & 1)] >> (4 * (k >> 1))) & 0xF;
    const int hi = (b->qh[32 * h + l] >> (2 * k)) & 3;
    q[e] = (lo | (hi << 4)) - 32;
  }
}
void set_q6_k(void* v, const int* q) {
  auto* b = static_cast<BlockQ6K*>(v);
  std::memset(b->ql, 0, sizeof(b->ql));
  std::memset(b->qh, 0, sizeof(b->qh));
  for (int e = 0; e < kQKK; ++e) {
    const int h = e / 128, k = (e % 128) / 32, l = e % 32;
    const int c = q[e] + 32;
    b->ql[64 * h + l + 32 * (k & 1)] |= static_cast<uint8_t>((c & 0xF) << (4 * (k >> 1)));
    b->qh[32 * h + l] |= static_cast<uint8_t>((c >> 4) << (2 * k));
  }
}

// IQ4_XS: sub-block s = e/32 at qs + 16s, nibbles as IQ4_NL; scale d·(ls − 32).
void grids_iq4_xs(const void* v, ElementGrid* g) {
  const auto* b = static_cast<const BlockIq4Xs*>(v);
  const float d = f16_to_f32(b->d);
  for (int s = 0; s < kQKK / 32; ++s) {
    const int ls = ((b->scales_l[s / 2] >> 4 * (s % 2)) & 0xf) | (((b->scales_h >> 2 * s) & 3) << 4);
    fill(g + 32 * s, 32, d * static_cast<float>(ls - 32), kNegZero);
  }
}
void get_iq4_xs(const void* v, int* q) {
  for (int s = 0; s < kQKK / 32; ++s) get_nibbles32(static_cast<const BlockIq4Xs*>(v)->qs + 16 * s, 0, q + 32 * s);
}
void set_iq4_xs(void* v, const int* q) {
  for (int s = 0; s < kQKK / 32; ++s) set_nibbles32(q + 32 * s, 0, static_cast<BlockIq4Xs*>(v)->qs + 16 * s);
}

// ---- the table -----------------------------------------------------------------------------

struct GridTraits {
  GgmlType type;
  int qmin, qmax;
  const int8_t* table;
  void (*grids)(const void* block, ElementGrid* out);  // scale and offset of every element
  void (*get)(const void* block, int* q);
  void (*set)(void* block, const int* q);              // rewrites every code bit, nothing else
};

constexpr GridTraits kGrids[] = {
    {GgmlType::Q4_0, -8, 7, nullptr, grids_q4_0, get_q4_0, set_q4_0},
    {GgmlType::Q4_1, 0, 15, nullptr, grids_q4_1, get_q4_1, set_q4_1},
    {GgmlType::Q5_0, -16, 15, nullptr, grids_q5_0, get_q5_0, set_q5_0},
    {GgmlType::Q5_1, 0, 31, nullptr, grids_q5_1, get_q5_1, set_q5_1},
    {GgmlType::Q8_0, -127, 127, nullptr, grids_q8_0, get_q8_0, set_q8_0},
    {GgmlType::IQ4_NL, 0, 15, kIq4nlValues, grids_iq4_nl, get_iq4_nl, set_iq4_nl},
    {GgmlType::Q2_K, 0, 3, nullptr, grids_q2_k, get_q2_k, set_q2_k},
    {GgmlType::Q3_K, -4, 3, nullptr, grids_q3_k, get_q3_k, set_q3_k},
    {GgmlType::Q4_K, 0, 15, nullptr, grids_q4_k, get_q4_k, set_q4_k},
    {GgmlType::Q5_K, 0, 31, nullptr, grids_q5_k, get_q5_k, set_q5_k},
    {GgmlType::Q6_K, -32, 31, nullptr, grids_q6_k, get_q6_k, set_q6_k},
    {GgmlType::IQ4_XS, 0, 15, kIq4nlValues, grids_iq4_xs, get_iq4_xs, set_iq4_xs},
};

const GridTraits* find_grid(GgmlType t) {
  for (const GridTraits& g : kGrids)
    if (g.type == t) return &g;
  return nullptr;
}

const GridTraits& checked_grid(GgmlType t, const char* what) {
  const GridTraits* g = find_grid(t);
  if (!g) fail("{}: type {} has no fixed-scale grid (supported: q8_0, q5_0, q5_1, q4_0, q4_1, iq4_nl, q6_K, q5_K, q4_K, q3_K, q2_K, iq4_xs)", what, ggml_type_name(t));
  return *g;
}

}  // namespace

int nearest_level(const ElementGrid& g, float x, int prefer) {
  // A first guess from the real-number inverse, then its neighbours compared by the exact
  // float values: the guess can be off by one where rounding x/scale straddles a midpoint.
  int c;
  if (g.table) {
    c = best_index_int8(16, g.table, x / g.scale);  // NaN or ±inf ratios give an end, no UB
  } else {
    float r = (x - g.offset) / g.scale;
    const float lo = static_cast<float>(g.qmin), hi = static_cast<float>(g.qmax);
    if (!(r >= lo)) r = lo;  // NaN goes to lo
    if (!(r <= hi)) r = hi;
    c = static_cast<int>(std::floor(r + 0.5f));
  }
  auto dist = [&](int q) {
    const float d = std::fabs(x - g.value(q));
    return std::isnan(d) ? std::numeric_limits<float>::infinity() : d;
  };
  const bool prefer_ok = prefer >= g.qmin && prefer <= g.qmax;
  int best = prefer_ok ? prefer : c;
  float best_d = dist(best);
  for (int q : {c, c - 1, c + 1}) {
    if (q < g.qmin || q > g.qmax) continue;
    const float d = dist(q);
    if (d < best_d) {
      best = q;
      best_d = d;
    }
  }
  return best;
}

bool grid_supported(GgmlType type) { return find_grid(type) != nullptr; }

ElementGrid type_grid(GgmlType type) {
  const GridTraits& t = checked_grid(type, "type_grid");
  ElementGrid g;
  g.qmin = t.qmin;
  g.qmax = t.qmax;
  g.table = t.table;
  return g;
}

void block_element_grids(GgmlType type, const void* block, ElementGrid* out) {
  const GridTraits& t = checked_grid(type, "block_element_grids");
  const int n = static_cast<int>(ggml_traits(type).block_size);
  for (int i = 0; i < n; ++i) {
    out[i].qmin = t.qmin;
    out[i].qmax = t.qmax;
    out[i].table = t.table;
  }
  t.grids(block, out);
}

void block_levels(GgmlType type, const void* block, int* q) { checked_grid(type, "block_levels").get(block, q); }

void set_block_levels(GgmlType type, const void* template_block, const int* q, void* out_block) {
  const GridTraits& t = checked_grid(type, "set_block_levels");
  const auto& tr = ggml_traits(type);
  for (uint32_t i = 0; i < tr.block_size; ++i)
    if (q[i] < t.qmin || q[i] > t.qmax)
      fail("set_block_levels: {} element {}: level {} is outside {}..{}", ggml_type_name(type), i, q[i], t.qmin, t.qmax);
  // Through a copy, so that out may alias the template.
  alignas(8) uint8_t tmp[256];
  static_assert(sizeof(BlockQ6K) <= sizeof(tmp));
  std::memcpy(tmp, template_block, tr.type_size);
  t.set(tmp, q);
  std::memcpy(out_block, tmp, tr.type_size);
}

void encode_block_fixed_scales(GgmlType type, const void* template_block, const float* x, void* out_block) {
  checked_grid(type, "encode_block_fixed_scales");
  ElementGrid grids[kQKK];
  int q[kQKK];
  const int n = static_cast<int>(ggml_traits(type).block_size);
  block_element_grids(type, template_block, grids);
  block_levels(type, template_block, q);  // the template's codes break ties (grid.h)
  for (int i = 0; i < n; ++i) q[i] = nearest_level(grids[i], x[i], q[i]);
  set_block_levels(type, template_block, q, out_block);
}

}  // namespace lowbit
