// SmoothQuant (Xiao et al. 2022, arXiv:2211.10438): W8A8 linears whose activation
// outliers were first migrated into the weights.
//
// LLM activations have a few input channels with magnitudes 10–100× the rest (§3), so a
// per-token int8 scale, set by the outlier, leaves the other channels a handful of levels.
// Weights are flat and easy. Smoothing (§4, eq. 4) divides input channel j by
//
//   s_j = max_n |X_nj|^α / max_{k,o} |W_k[o, j]|^(1−α)          (migration strength α)
//
// and multiplies weight column j by s_j (awq_fold.h: the producer absorbs 1/s), so both
// the activation and the weight maxima of channel j become max|X_j|^(1−α) · max|W_j|^α: at
// α = 0.5 they are equal (the paper's default for OPT/BLOOM; LLaMA models often want
// 0.8–0.85). The weight max runs over every matrix of the group sharing the input (q/k/v,
// or gate/up). Channels where either max is 0 carry nothing to migrate and keep s_j = 1
// (the reference code clamps to 1e-5 instead, which would blow the producer up by 10⁵).
// α = 0 still divides by max|W_j| (s_j = 1/max|W_j|); "no smoothing" is s = 1.
//
// Then W8A8 (§4, "per-tensor / per-token" schemes O1–O3), everything symmetric, int8 codes
// in [−127, 127] (the code −128 is never produced: affine.h's restricted range):
//   weights      per output channel, scale = max|w_row| / 127
//   activations  dynamic per token: scale = max|x_row| / 127, computed at run time; or
//                static per tensor from a calibration range [lo, hi] (any observer's:
//                min-max, percentile, MSE...), scale = max(|lo|, |hi|) / 127, values
//                outside clamped
//   linear       y[t, o] = (Σ_i xq[t, i] · wq[o, i]) · s_x[t] · s_w[o]  (int32 sums,
//                kernels/int8_gemm.h; exact integer arithmetic, one float scaling)
// Rounding is to nearest, ties to even (affine.h's quantize_offset). All-zero rows get the
// scale FLT_MIN (affine_params' floor), so their codes are 0 and decode to 0.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "quant/methods/awq_fold.h"

namespace lowbit {

// max_n |X_nj| per input channel (X: n × in). Throws Error naming a non-finite element.
std::vector<float> channel_absmax(const float* X, int64_t n, int64_t in);

// The smoothing factors s (in) for activation maxima act_absmax (in) and the group's
// weights (each W_k: out_k × in). alpha in [0, 1]. Throws Error on shape mismatches,
// negative or non-finite maxima, non-finite weights, or α outside [0, 1].
std::vector<float> smooth_scales(std::span<const float> act_absmax, std::span<const MatrixView> weights, float alpha = 0.5f);

// int8 weights, one symmetric scale per output row: W ≈ scales[o] · q[o, :].
struct Int8Weights {
  int64_t rows = 0, cols = 0;
  std::vector<int8_t> q;       // rows × cols codes in [−127, 127]
  std::vector<float> scales;   // rows
};

// int8 activations: per token (one scale per row) or per tensor (one scale in all).
struct Int8Activations {
  int64_t rows = 0, cols = 0;
  std::vector<int8_t> q;       // rows × cols codes in [−127, 127]
  std::vector<float> scales;   // rows (per token) or 1 (per tensor)
  bool per_token = true;
};

// Throw Error naming the row and column of a non-finite element, or on a bad range.
Int8Weights quantize_weights_int8_per_channel(const float* W, int64_t rows, int64_t cols);
Int8Activations quantize_activations_int8_per_token(const float* X, int64_t rows, int64_t cols);
// Static: range_min ≤ range_max, both finite (what the calibration observer measured).
Int8Activations quantize_activations_int8_per_tensor(const float* X, int64_t rows, int64_t cols, float range_min,
                                                     float range_max);

// y (x.rows × w.rows) = (xq · wqᵀ) · s_x · s_w, int32 accumulation. Throws Error when
// x.cols != w.cols or a structure is inconsistent.
void w8a8_linear(const Int8Activations& x, const Int8Weights& w, float* y);

// How a W8A8 linear quantizes its float input.
struct ActivationQuant {
  bool per_token = true;            // dynamic per-token scales
  float range_min = 0, range_max = 0;  // static per-tensor range (per_token = false)

  static ActivationQuant dynamic_per_token() { return {}; }
  static ActivationQuant static_per_tensor(float lo, float hi) { return {false, lo, hi}; }
};

// Quantizes X (T × w.cols) as act says, then w8a8_linear into y (T × w.rows).
void w8a8_linear(const float* X, int64_t T, const Int8Weights& w, const ActivationQuant& act, float* y);

}  // namespace lowbit
