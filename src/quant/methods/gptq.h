// GPTQ: Frantar, Ashkboos, Hoefler, Alistarh 2022, "GPTQ: Accurate Post-Training
// Quantization for Generative Pre-trained Transformers" (arXiv:2210.17323), Algorithm 1.
//
// Per linear layer it minimises the output reconstruction error (eq. 1)
//
//   argmin_Ŵ ‖W X − Ŵ X‖²₂,   whose Hessian per output row is H = 2 X Xᵀ / n (hessian.h)
//
// by quantizing the input columns one at a time and, after each, moving the not yet
// quantized columns of every row to compensate — the Optimal Brain Surgeon update (eq. 2–3)
//
//   δ_F = − (w_q − quant(w_q)) / [H_F⁻¹]_qq · (H_F⁻¹)_{:,q}
//
// in a fixed column order for all rows (§4 Step 1), with the inverse Hessians of the shrinking
// column sets read off one Cholesky factor (§4 Step 3): H⁻¹ = Uᵀ U, U upper triangular, and
// row q of U is (H_F⁻¹)_{q,F} / sqrt([H_F⁻¹]_qq) for F = {q, …, n−1}. With
// err_q = (w_q − quant(w_q)) / U_qq the update is w_F −= err_q · U_{q,F}. Updates are applied
// lazily (§4 Step 2): inside a block of B columns immediately, to the columns after the block
// once per block as one matrix product W[:, end:] −= Err · U[block, end:] (sgemm).
//
// Exactly (in real arithmetic) Σ_q err_q² = Σ_rows (w − ŵ)ᵀ (H + λI) (w − ŵ): the error GPTQ
// reports is the damped quadratic form of the final weight error (the reference code's "loss"
// is half of it).
//
// Hessian preparation follows the reference implementation (gptq.py / AutoGPTQ):
//   - dead inputs (H_ii = 0, a column no calibration input ever touches): H_ii = 1, W[:, i] = 0;
//   - dampening λ = percdamp · mean(diag H) added to the diagonal (§4 "Cholesky Reformulation");
//     if the factorization still fails, percdamp grows ×10 up to max_percdamp, then Error;
//   - act-order (the reference's --act-order / desc_act): columns processed by descending
//     H_ii, so the columns with the largest activations are quantized first, while most
//     columns are left to absorb their error. Group parameters are then "static" (AutoGPTQ's
//     static_groups=True): computed before the permutation from the original weights per
//     group of consecutive columns, so groups stay contiguous in the stored layout — what
//     GGUF blocks and plain g_idx = c / group_size exports need.
//   - H⁻¹'s upper factor: the reference computes chol(H), cholesky_inverse, chol(·, upper);
//     here the same U comes from one factorization: with P the reversal permutation and
//     P H P = L̃ L̃ᵀ, H⁻¹ = (P L̃⁻¹ P)ᵀ (P L̃⁻¹ P) and P L̃⁻¹ P is upper triangular with a
//     positive diagonal, so by uniqueness it is U (dpotrf + dtrtri in double: half the flops
//     of the three-step route, no explicit inverse). gptq_test checks it against the three
//     steps done in plain double loops.
//
// Two targets:
//   gptq_quantize_affine  a QuantScheme (quant/linear): per-group/per-channel/per-tensor
//                         (scale, zero); a group's parameters come from the group's current
//                         (already updated) weights when GPTQ reaches its first column, or
//                         static (act-order) from the original weights.
//   gptq_quantize_gguf    a GGUF block type: when GPTQ reaches a block's first column, every
//                         row's block is quantized from its current values by the codec's
//                         quantize_row with importance = H_jj / 2 (llama.cpp's imatrix), which
//                         fixes the block's scale fields; each column is then rounded to the
//                         nearest value those scales allow (grid.h), and the chosen codes are
//                         written into the blocks with the scales kept. With act-order the
//                         blocks' scales are fixed up front from the original rows.
#pragma once

#include <cstdint>
#include <vector>

#include "core/ggml_type.h"
#include "quant/linear/quantized_tensor.h"
#include "quant/linear/scale_search.h"

namespace lowbit {

struct GptqOptions {
  double percdamp = 0.01;       // λ = percdamp · mean(diag H); ≥ 0
  double max_percdamp = 1.0;    // on a failed Cholesky percdamp ×10 while ≤ this, then Error
  bool act_order = false;       // process columns by descending H_ii (static groups)
  int64_t block_size = 128;     // B, the lazy-batch width (rounded up to whole groups/blocks)
  // Affine target: each group's range search (ClipGrid{1, 1} = min-max, the reference's
  // default; more points = AutoGPTQ's mse search), weighted by H_jj of the group's columns.
  ClipGrid clip{1, 1.0f};
};

struct GptqReport {
  double error = 0.0;           // Σ err² = Σ_rows (w − ŵ)ᵀ (H + λI) (w − ŵ)
  double damp = 0.0;            // λ added to H's diagonal
  double percdamp = 0.0;        // the percdamp λ came from (> options.percdamp after retries)
  int64_t dead_columns = 0;     // inputs with H_ii = 0 (their weights became 0)
  std::vector<int32_t> perm;    // processing order: perm[k] = the column quantized k-th
};

struct GptqAffineResult {
  QuantizedTensor tensor;       // original column order; tensor.error = report.error
  std::vector<int32_t> g_idx;   // per input column its group, HF GPTQ's g_idx: c / group_size
                                // (static groups keep it so under act-order); 0 per-channel
  std::vector<float> weights;   // Ŵ (rows × cols): bit for bit dequantize_tensor(tensor)
  GptqReport report;
};

struct GptqGgufResult {
  GgmlType type = GgmlType::F32;
  int64_t rows = 0, cols = 0;
  std::vector<uint8_t> data;    // rows × row-bytes blocks, llama.cpp's layout
  std::vector<float> weights;   // Ŵ (rows × cols): bit for bit the codec's dequantize_row
  GptqReport report;
};

// W: rows × cols (out × in) row-major, read only. H: cols × cols row-major, symmetric (only
// the lower triangle i ≥ j is read), e.g. HessianAccumulator::finalize(). Throws Error on a
// bad shape or scheme, on NaN/inf in W or H (naming row and column), on a negative H_ii, and
// when H + λI is not positive definite even at max_percdamp.
GptqAffineResult gptq_quantize_affine(const float* W, int64_t rows, int64_t cols, const float* H,
                                      const QuantScheme& scheme, const GptqOptions& options = {});

// type: one of grid_supported() (Q8_0, Q5_0, Q5_1, Q4_0, Q4_1, IQ4_NL, Q6_K, Q5_K, Q4_K,
// Q3_K, Q2_K, IQ4_XS); cols a multiple of its block size. Throws as gptq_quantize_affine.
GptqGgufResult gptq_quantize_gguf(GgmlType type, const float* W, int64_t rows, int64_t cols, const float* H,
                                  const GptqOptions& options = {});

// ---- the pieces, for other targets and for tests ---------------------------------------------

// Rounds one weight at a time for gptq_run.
class GptqColumnQuantizer {
 public:
  virtual ~GptqColumnQuantizer() = default;
  // gptq_run makes every lazy block a multiple of span() columns starting at a multiple of
  // it, so a group of span() columns starting at column j lies inside j's block: its columns
  // are all current when the group's first column is quantized.
  virtual int64_t span() const { return 1; }
  // Quantizes element (r, j): returns the value w = row[j] is replaced by. row is row r of the
  // working matrix (processing order); its columns j … block end hold their current values.
  // Called for j = 0, 1, … in order for each row; different rows may run on different threads
  // at once. Must not throw; non-finite input must not be undefined behaviour.
  virtual float quantize(int64_t r, int64_t j, const float* row) = 0;
};

// Algorithm 1's loop over W (rows × cols row-major, processing order), updated in place: on
// return column j holds the quantized values. U: the cols × cols upper factor of (H + λI)⁻¹
// (row-major, gptq_inverse_factor). block_size: B, rounded up to a multiple of
// quantizer.span(). Returns Σ err². Throws Error when an error term becomes NaN or infinite
// (a Hessian too ill-conditioned for float: raise percdamp).
double gptq_run(float* W, int64_t rows, int64_t cols, const float* U, GptqColumnQuantizer& quantizer,
                int64_t block_size = 128);

// U (n × n row-major, upper; zeros below the diagonal) with (H + damp·I)⁻¹ = Uᵀ U, from the
// lower triangle of H (n × n row-major). Computed in double. Returns false when H + damp·I is
// not positive definite.
bool gptq_inverse_factor(const float* H, int64_t n, double damp, float* U);

}  // namespace lowbit
