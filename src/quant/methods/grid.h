// The fixed-scale grids of the GGUF block formats: once a block's scale fields are chosen,
// every element can only take the values of one small grid. GPTQ (gptq.h) fixes a block's
// scales with the codec's quantize_row when it reaches the block, then rounds each column
// onto these grids one at a time, so it needs them per element; at the end the codes it
// chose are written into the block with the template's scale bytes untouched.
//
// Per element the grid is
//
//   value(q) = scale · level(q) + offset,   level(q) = q (q in [qmin, qmax]) or table[q]
//
// with scale and offset computed exactly as the codec's dequantize_row computes them, in the
// same float operations, so value(q) is bit for bit what llama.cpp decodes:
//
//   type    level range      scale                   offset       elements sharing a grid
//   Q4_0    q in -8..7       d                       -0           32
//   Q4_1    q in 0..15       d                       m            32
//   Q5_0    q in -16..15     d                       -0           32
//   Q5_1    q in 0..31       d                       m            32
//   Q8_0    q in -127..127   d                       -0           32
//   IQ4_NL  table[0..15]     d                       -0           32
//   Q2_K    q in 0..3        d·sc                    -(dmin·m)    16
//   Q3_K    q in -4..3       d·(sc−32)               -0           16
//   Q4_K    q in 0..15       d·sc                    -(dmin·m)    32
//   Q5_K    q in 0..31       d·sc                    -(dmin·m)    32
//   Q6_K    q in -32..31     d·sc                    -0           16
//   IQ4_XS  table[0..15]     d·(ls−32)               -0           32
//
// "-0" is negative zero: x + (−0) = x for every float x, signed zeros included, so the one
// formula reproduces the scale-only types exactly; and a − b = a + (−b) in IEEE arithmetic,
// so the K-quants' d·q − m matches too. Q8_0 leaves out the code −128: ggml never writes it
// and its AVX2 dot products take |q| with a sign trick that −128 breaks.
//
// Bit-exactness needs value() compiled without FMA contraction, as the codecs are (the x86-64
// baseline has no FMA; a build with -mfma must pass -ffp-contract=off to this module too).
//
// Every grid is constant over aligned runs of kGridRun = 16 elements (the smallest sub-block),
// which lets GPTQ keep one (scale, offset) per 16 weights instead of one per weight.
#pragma once

#include <cstdint>

#include "core/ggml_type.h"

namespace lowbit {

constexpr int kGridRun = 16;

struct ElementGrid {
  float scale = 0.0f;
  float offset = -0.0f;
  int qmin = 0, qmax = 0;            // the levels q = qmin..qmax (table: indices 0..15)
  const int8_t* table = nullptr;     // nullptr: level(q) = q; else level(q) = table[q]

  float level(int q) const { return static_cast<float>(table ? table[q] : q); }
  // The decoded value of level q, bit-identical to the codec's dequantize_row.
  float value(int q) const { return scale * level(q) + offset; }
};

// The q nearest to x on grid g: minimises |x − value(q)| over qmin..qmax (a NaN distance
// counts as infinite). Among equally near levels, `prefer` wins when it is one of them (so a
// block re-encoded from its own decoded values keeps even the codes a zero scale made
// arbitrary); otherwise the first found. Never undefined behaviour, NaN x included.
int nearest_level(const ElementGrid& g, float x, int prefer);
constexpr int kNoPreference = -1000;

// The block types that have grids: Q8_0, Q5_0, Q5_1, Q4_0, Q4_1, IQ4_NL, Q6_K, Q5_K, Q4_K,
// Q3_K, Q2_K, IQ4_XS.
bool grid_supported(GgmlType type);
// The level range and table every element of the type shares (scale and offset left 0, −0).
ElementGrid type_grid(GgmlType type);

// Decodes the scale fields of one block into its block_size per-element grids (out has
// ggml_traits(type).block_size entries). Throws Error for a type without grids.
void block_element_grids(GgmlType type, const void* block, ElementGrid* out);

// The level of every element of a block (q in the grid's terms: value(q) is the decoded value).
void block_levels(GgmlType type, const void* block, int* q);

// A copy of template_block with the codes replaced by q (block_size levels, each inside the
// type's range; out of range throws Error) and every scale and min field kept byte for byte.
// out_block may alias template_block.
void set_block_levels(GgmlType type, const void* template_block, const int* q, void* out_block);

// Keeps every scale/min field of template_block and sets each element's code to the grid
// value nearest x (nearest_level, preferring the template's own code on ties). x holds
// block_size floats. out_block may alias template_block.
void encode_block_fixed_scales(GgmlType type, const void* template_block, const float* x, void* out_block);

}  // namespace lowbit
