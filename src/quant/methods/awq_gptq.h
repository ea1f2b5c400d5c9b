// AWQ + GPTQ: AWQ's activation-aware scales (awq.h) first, then GPTQ (gptq.h) on the
// scaled weights. Lin et al. 2023 (arXiv:2306.00978) call the two orthogonal and combine them
// for INT2: AWQ changes what is quantized, GPTQ how it is rounded.
//
// For a group of matrices W_k sharing the input x (n × in), AWQ picks s (in) and the
// consumers become W_k diag(s) while the producer absorbs 1/s (awq_fold.h), so the matrices
// now read x' = x / s. GPTQ must minimise the error on that input:
//
//   ‖W x − Ŵ' x'‖² with x' = diag(s)⁻¹ x   ⇒   H' = (2/n) Σ x' x'ᵀ = diag(s)⁻¹ H diag(s)⁻¹,
//   H'_ij = H_ij / (s_i s_j)
//
// so the Hessian collected on the unscaled input is rescaled, not recollected. GPTQ's block
// scales come from the codec's importance-weighted quantize_row with importance H'_jj / 2,
// the imatrix of the scaled input (what AWQ's own rounding uses).
//
// Order (quant/pipeline/layer_methods.cc): every group's scale search and fold first, then GPTQ
// per matrix on its final weights — ffn_up is a consumer of the ffn_norm group and the
// producer of ffn_down's, so its rows also carry 1/s of the next group before it is rounded.
//
// Clipping: AWQ's clip search (AwqOptions::clip) shrinks weights to cut round-to-nearest
// error; GPTQ then treats the clipped weights as its target, so the clip error can no longer
// be compensated. It is kept as an option (off in the pipeline's default) and measured.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

namespace lowbit {

// H' = diag(s)⁻¹ H diag(s)⁻¹ (H: n × n row-major, both triangles; s: n, all > 0).
std::vector<float> scale_hessian(const float* H, int64_t n, std::span<const float> s);

}  // namespace lowbit
