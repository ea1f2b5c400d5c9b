// AWQ: Activation-aware Weight Quantization (Lin et al. 2023, arXiv:2306.00978), the
// search half: per-input-channel scales s and clipped weights for a group of linear layers
// that share one input, chosen on calibration activations. Quantizing the result with the
// same quantizer, and folding 1/s into the producer of the input (awq_fold.h), is the
// caller's (pipeline's) job.
//
// Inputs: X (n × in, the group's shared input: q/k/v after attn_norm, gate/up after
// ffn_norm, attn_output's or ffn_down's input), weights W_k (out_k × in) and a quantizer Q
// (a GGUF block codec or a generic affine scheme, AwqQuantizer below).
//
// 1. Scale search (§3.2, eq. 4–5; llm-awq auto_scale). Activation magnitude per input
//    channel a_j = mean_n |X_nj|. For α in {0, 1/G, ..., (G−1)/G} (G = 20):
//      s = max(a^α, 1e-4),  s /= sqrt(max(s) · min(s))     (llm-awq's normalisation)
//      loss(α) = Σ_k ‖X W_kᵀ − (X diag(s)⁻¹) Q(W_k diag(s))ᵀ‖²_F
//    computed as ‖X (W_k − Q(W_k diag(s)) diag(s)⁻¹)ᵀ‖² (same value, no cancellation of two
//    large products), with OpenBLAS sgemm on an evenly strided subsample of at most
//    max_rows rows of X, squares summed in double. α = 0 gives s = 1 exactly (a^0 = 1, also
//    for a = 0), i.e. plain round-to-nearest; a grid point replaces the best only when
//    strictly better, so loss(α*) ≤ loss(0) = the RTN loss: AWQ never loses to RTN on the
//    calibration objective.
// 2. Clipping search (§3.3 / llm-awq auto_clip), on the scaled weights W' = W diag(s). Per
//    output row and clip group (the elements a quantizer quantizes independently: a codec
//    block, an affine group, or the whole row for per-channel affine) try ratios r from 1
//    down to min_clip: clamp the group to [−r·max|w|, r·max|w|] (GGUF codecs and symmetric
//    affine) or [r·min, r·max] (asymmetric affine: its group min/max shrink) before
//    quantizing, and keep per group the ratio minimising the group's output error
//      e(g, r) = Σ_n ( Σ_{j∈g} (X/s)_nj (W'_j − Q(clamp_r W')_j) )²
//    (strictly-better rule, r = 1 first). Groups are independent, so the per-group choices
//    combine. The group objective ignores cross-group terms, so the full loss could in
//    principle rise; each matrix is checked and keeps its unclipped weights if it does:
//    the reported clipped loss never exceeds the unclipped one.
//
// Optional importance: with AwqOptions::importance the quantizer also gets llama.cpp's
// imatrix of the scaled input, mean_n (X_nj / s_j)² per column (what an imatrix collected
// on the folded model would hold), for codecs' importance-weighted rounding.
//
// Output: s, α*, loss per α, and the scaled (clipped) weights ready for quantization.
#pragma once

#include <cstdint>
#include <functional>
#include <span>
#include <string>
#include <vector>

#include "core/ggml_type.h"
#include "quant/linear/affine.h"
#include "quant/methods/awq_fold.h"

namespace lowbit {

// How AWQ quantizes a weight matrix: fake quantization (quantize, then dequantize with the
// real format's arithmetic), plus what the clipping search needs to know about it.
struct AwqQuantizer {
  // w (rows × cols) → out (rows × cols, the decoded values). importance: nullptr or cols
  // per-column weights (a quantizer may ignore them). Must not keep the pointers.
  using FakeQuantFn = std::function<void(const float* w, int64_t rows, int64_t cols, const float* importance, float* out)>;

  std::string name;            // "q4_K", "affine_b4_g128_asym"
  int64_t row_multiple = 1;    // rows must have a multiple of this many columns
  int64_t clip_group = 0;      // columns quantized independently of the rest of the row
                               // (codec block, affine group; 0 = cols): the clip unit.
                               // -1: rows are not independent (per-tensor affine), no clipping
  bool clip_symmetric = true;  // clamp to ±r·max|w| (else to r·[min, max])
  FakeQuantFn fake_quantize;
};

// A GGUF block type with both codec directions (throws Error otherwise): quantize_tensor /
// dequantize_tensor of quant/codecs, i.e. llama.cpp's bytes; clip group = block size.
AwqQuantizer awq_quantizer(GgmlType type);
// A generic affine scheme (quant/linear) with min-max ranges, i.e. round-to-nearest; with
// importance, the importance-weighted range search of scale_search.h. Clip group: the
// group (PerGroup), the row (PerChannel); PerTensor cannot be clipped per group.
AwqQuantizer awq_quantizer(const QuantScheme& scheme);

struct AwqOptions {
  int alpha_grid = 20;       // α = i / alpha_grid, i = 0 .. alpha_grid − 1 (≥ 1; 1: RTN only)
  int64_t max_rows = 512;    // subsample of X used by both searches (evenly strided rows)
  bool clip = true;          // run the clipping search
  int clip_grid = 20;        // ratios r_i = 1 − i · (1 − min_clip) / (clip_grid − 1)
  float min_clip = 0.5f;     // the smallest ratio, in (0, 1]
  bool importance = false;   // pass mean (X/s)² per column to the quantizer

  void validate() const;     // throws Error on values outside the ranges above
};

struct AwqResult {
  std::vector<float> scales;          // s (in): consumers × s, producer ÷ s (awq_fold.h)
  float alpha = 0.0f;                 // the chosen α (0: s = 1, plain RTN)
  std::vector<float> alphas;          // the grid searched
  std::vector<double> losses;         // loss(α) for each grid point (subsample)
  double rtn_loss = 0.0;              // losses[0]: s = 1, unclipped
  double scaled_loss = 0.0;           // loss at α*, unclipped (≤ rtn_loss)
  double final_loss = 0.0;            // loss of the returned weights (≤ scaled_loss)
  std::vector<double> matrix_losses;  // final loss per matrix
  std::vector<std::vector<float>> weights;      // W_k diag(s), clipped: quantize these
  std::vector<std::vector<float>> clip_ratios;  // per matrix: rows × groups ratios (empty if unclipped)
  std::vector<bool> clip_kept;        // per matrix: clipping kept (false: it raised the loss, or off)
  int64_t rows_used = 0;              // rows of X in the subsample
};

// Runs both searches. X: n × in, row-major; every W_k has cols == in. Throws Error on shape
// mismatches (in not a multiple of the quantizer's row_multiple), non-finite X or W
// (naming the element), or invalid options.
AwqResult awq_search(const float* X, int64_t n, int64_t in, std::span<const MatrixView> weights,
                     const AwqQuantizer& quantizer, const AwqOptions& options = {});

// The pieces, for callers and tests.
// a_j = mean_n |X_nj| (in values, accumulated in double).
std::vector<float> mean_abs_per_channel(const float* X, int64_t n, int64_t in);
// s = max(a^α, 1e-4), normalised by sqrt(max(s)·min(s)); α = 0 gives exactly 1.
std::vector<float> awq_scales(std::span<const float> act_mean_abs, float alpha);
// Σ_k ‖X (W_k − Q(W_k diag(s)) diag(s)⁻¹)ᵀ‖² over all n rows of X (scales empty: s = 1).
// importance: nullptr or in columns, passed to the quantizer for W diag(s) as is.
double awq_loss(const float* X, int64_t n, int64_t in, std::span<const MatrixView> weights, std::span<const float> scales,
                const AwqQuantizer& quantizer, const float* importance = nullptr);
// Clamps each clip group of w (rows × cols, group = clip_group columns) to its range shrunk
// by ratios[r · groups + g] (groups = cols / clip_group), symmetric or min/max as described.
void awq_clip_weights(float* w, int64_t rows, int64_t cols, int64_t clip_group, bool symmetric,
                      std::span<const float> ratios);

}  // namespace lowbit
