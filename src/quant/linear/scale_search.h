// Choosing the scale (and zero point) of an affine quantizer.
//
// Min-max scaling (affine_params over the data's [min, max]) makes every value representable
// but lets a single outlier stretch the step s for all the others. Clipping the range to
// α·[min, max] (α < 1) trades a large error on the few clipped values for a smaller step —
// smaller rounding error, ≈ s²/12 per element — on the rest. The best α minimises
//
//   E(α) = Σ_i w_i · (x_i − x̂_i(α))²                              (weighted squared error)
//
// found by a grid search over α (AWQ's auto_clip, Lin et al. 2023 §3.3, searches
// max|x|·α the same way; the white paper of Nagel et al. 2021, §3.1, calls this MSE range
// setting). w_i = 1 gives plain MSE. With importance weights — llama.cpp's imatrix, the
// mean of x_j² over calibration activations for input column j — E approximates the
// output error ‖W·x − Ŵ·x‖² one row at a time (GPTQ's objective with a diagonal Hessian,
// Frantar et al. 2022 eq. 1), so columns that see large activations are fitted tighter.
//
// Candidate ratios: α_k = 1 − k·(1 − min_ratio)/(points − 1), k = 0 .. points−1, so α_0 = 1
// is exactly the min-max choice. A candidate replaces the best only when strictly better,
// so the search never returns a larger error than min-max and prefers the widest range on
// ties. The clipped range is [α·min, α·max]: it shrinks toward 0 and keeps 0 inside, so the
// zero-exact guarantee of affine_params holds for every candidate.
#pragma once

#include <cstdint>
#include <span>

#include "quant/linear/affine.h"

namespace lowbit {

struct ClipGrid {
  int points = 100;         // candidates tried, ≥ 1; 1 means min-max only
  float min_ratio = 0.3f;   // smallest α, in (0, 1]

  void validate() const;    // throws Error on points < 1 or min_ratio outside (0, 1]
  float ratio(int k) const; // α_k
};

// The outcome of a search over one group of elements.
struct ScaleChoice {
  AffineParams params;
  float clip_ratio = 1.0f;  // the α chosen (1 for min-max)
  double error = 0.0;       // Σ w_i (x_i − x̂_i)² at params, accumulated in double
};

// Searches the grid for the params minimising Σ w_i (x_i − x̂_i)². weights: empty (all 1)
// or one non-negative finite weight per element of x. Throws Error naming the element on a
// non-finite x or a negative/non-finite weight, or on a size mismatch.
ScaleChoice search_scale(std::span<const float> x, std::span<const float> weights,
                         const QuantScheme& scheme, const ClipGrid& grid);

// Min-max params (search_scale with one candidate, α = 1) and their error.
ScaleChoice minmax_scale(std::span<const float> x, std::span<const float> weights, const QuantScheme& scheme);

// Σ w_i (x_i − x̂_i)² of quantizing x with p (w empty = all 1); what search_scale minimises.
// Throws like search_scale.
double quant_error(std::span<const float> x, std::span<const float> weights, AffineParams p, const QuantScheme& scheme);

// How quantize_tensor picks each group's params.
enum class ScaleMethod : uint8_t {
  MinMax,      // affine_params over the group's [min, max]; weights ignored for the choice
  ClipSearch,  // grid search; weights empty (MSE) or one per tensor element (rows·cols)
  Importance,  // grid search weighted per input column: weights has cols entries and
               // weights[j] applies to element j of every row (an imatrix)
};

const char* scale_method_name(ScaleMethod m);  // "minmax", "clip", "importance"

// The policy for a whole tensor. weights is a view: the caller keeps the data alive for
// the call. The reported error is weighted by the same weights (MinMax included).
struct ScaleSearch {
  ScaleMethod method = ScaleMethod::MinMax;
  ClipGrid grid;
  std::span<const float> weights;

  static ScaleSearch min_max() { return {}; }
  static ScaleSearch clip(ClipGrid g = {}) { return {ScaleMethod::ClipSearch, g, {}}; }
  static ScaleSearch clip_weighted(std::span<const float> element_weights, ClipGrid g = {}) {
    return {ScaleMethod::ClipSearch, g, element_weights};
  }
  static ScaleSearch importance(std::span<const float> column_weights, ClipGrid g = {}) {
    return {ScaleMethod::Importance, g, column_weights};
  }

  // Throws Error when the weights do not fit a rows × cols tensor (count, sign, finiteness;
  // naming the offending index) or the grid is invalid.
  void validate_for(int64_t rows, int64_t cols) const;
};

namespace detail {

// A rows × cols window of a row-major matrix: element (r, c) is x[r·x_stride + c], its weight
// w[r·w_stride + c] (w_stride 0: the same column weights for every row; w null: all 1).
// Unchecked: x finite, w finite and ≥ 0 — the public entry points check first, so that
// nothing throws inside the OpenMP regions that call this.
struct Block {
  const float* x = nullptr;
  int64_t rows = 0, cols = 0, x_stride = 0;
  const float* w = nullptr;
  int64_t w_stride = 0;
};

// The grid search over a block. parallel_rows spreads each candidate's error over OpenMP
// threads by row (for a single large per-tensor block); row errors are summed in row order
// so the result does not depend on the thread count.
ScaleChoice search_block(const Block& b, const QuantScheme& scheme, const ClipGrid& grid, bool parallel_rows);

}  // namespace detail
}  // namespace lowbit
