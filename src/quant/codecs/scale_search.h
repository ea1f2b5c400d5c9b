// The scale searches behind ggml's quantizers (ggml/src/ggml-quants.c), reimplemented with the
// same arithmetic in the same order so that lowbit writes llama.cpp's bytes. Each fits codes
// L and a scale (and for the affine ones a min) to n values x, minimising a weighted squared
// (or absolute) error; they differ in the grid they search and how they refine:
//
//   make_qx_quants   symmetric, L in [-nmax, nmax-1] (stored + nmax); tries 19 scales around
//                    nmax/max and keeps the best weighted least-squares fit.
//   make_q3_quants   symmetric; then coordinate descent on single codes (Q3_K reference).
//   make_qkx2_quants affine x ~ scale*L + min, L in [0, nmax]; tries nstep+1 grid stretches and
//                    solves the 2x2 least squares for (scale, min) at each (K-quant references).
//   make_qkx3_quants the same with optional weights (nullptr: x^2) and a guard for degenerate
//                    fits (the importance-weighted K-quants).
//   make_qp_quants   unsigned codes for positive values (the sub-block scales themselves).
//
// Weights follow the imatrix convention: w_i = importance_i * sqrt(sigma^2 + x_i^2) in the
// *_impl paths (see each codec).
#pragma once

#include <cmath>
#include <cstdint>
#include <cstring>

namespace lowbit {

// ggml's GROUP_MAX_EPS: a group whose largest magnitude is below this is all zeros.
constexpr float kGroupMaxEps = 1e-15f;

// Round to nearest, ties to even, via the 1.5 * 2^23 trick (ggml's nearest_int). Valid for
// |x| <= 2^22; outside that (or NaN) the result is garbage but never undefined behaviour.
inline int nearest_int(float x) {
  const float v = x + 12582912.f;
  int32_t i;
  std::memcpy(&i, &v, sizeof(i));
  return (i & 0x007fffff) - 0x00400000;
}

// ggml's MIN(hi, (int8_t)v) / (uint8_t)v for the v >= 0 of its round-half-up code formulas
// (x*id + 8.5 and the like), minus the undefined behaviour of converting NaN or out-of-range
// floats (non-finite input): those give 0 or hi. Identical to ggml for every finite input.
inline int trunc_code(float v, int hi) {
  if (!(v >= 0)) return 0;
  if (v >= static_cast<float>(hi)) return hi;
  return static_cast<int>(v);
}

// round(v) (half away from zero, C's roundf) as an int8 code in -127..127, NaN giving -127.
// ggml converts roundf(v) directly; for its |v| <= 127 (plus rounding) the results agree.
inline int8_t round_code_int8(float v) {
  return static_cast<int8_t>(std::round(std::fmin(std::fmax(v, -127.f), 127.f)));
}

// Index of the grid value nearest to x in a sorted grid of n (a power of two) int8 values;
// ties go to the upper value (ggml's best_index_int8).
inline int best_index_int8(int n, const int8_t* val, float x) {
  const float x2 = x + x;
  int idx = 0;
  for (int step = n >> 1; step > 0; step >>= 1) {
    const int j = idx + step;
    idx = (x2 >= static_cast<float>(val[j - 1] + val[j])) ? j : idx;
  }
  return idx;
}

// rmse_type: 0 = plain rounding at nmax/max; 1 = weights x^2 (or qw when given); a negative
// value returns early with the mean of two scale estimates. Returns the scale; L gets codes
// in [0, 2*nmax).
float make_qx_quants(int n, int nmax, const float* x, int8_t* L, int rmse_type, const float* qw);
float make_q3_quants(int n, int nmax, const float* x, int8_t* L, bool do_rmse);
// the_min receives -min (a non-negative offset); Laux is scratch of n bytes.
float make_qkx2_quants(int n, int nmax, const float* x, const float* weights, uint8_t* L,
                       float* the_min, uint8_t* Laux, float rmin, float rdelta, int nstep,
                       bool use_mad);
float make_qkx3_quants(int n, int nmax, const float* x, const float* weights, uint8_t* L,
                       float* the_min, uint8_t* Laux, float rmin, float rdelta, int nstep,
                       bool use_mad);
float make_qp_quants(int n, int nmax, const float* x, uint8_t* L, const float* quant_weights);

// The shared IQ4_NL / IQ4_XS quantizer (ggml's quantize_row_iq4_nl_impl for 16 values):
// one super-block of super_block_size elements in sub-blocks of 32. For a single sub-block
// (IQ4_NL) the f16 scale is the fitted float scale; for several (IQ4_XS) 6-bit sub-scales
// relative to d = -max_scale/32. importance: nullptr means weights x^2. ntry: scale candidates
// tried on each side of max/values[0] (llama.cpp's quantizer uses 7).
void quantize_iq4_superblock(int super_block_size, const float* x, uint16_t* dh, uint8_t* q4,
                             uint16_t* scales_h, uint8_t* scales_l, const float* importance,
                             int ntry);

}  // namespace lowbit
