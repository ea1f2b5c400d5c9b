// Equivalent per-input-channel scaling of linear layers, shared by AWQ (Lin et al. 2023,
// §3.2, "Protecting salient weights by activation-aware scaling") and SmoothQuant (Xiao et
// al. 2022, §4, eq. 3):
//
//   y = W x = (W · diag(s)) · (diag(s)⁻¹ · x)        s ∈ ℝⁱⁿ, every s_j > 0 and finite
//
// Scaling column j of every consumer W of x by s_j and dividing the producer's output
// channel j by s_j leaves the full-precision function unchanged; only what gets quantized
// changes (AWQ: salient weight columns grow, so their rounding error shrinks relative to
// them; SmoothQuant: activation outlier channels shrink, weights absorb them). The division
// must land in an operation that is linear per channel and stays in float, so it costs
// nothing at inference. In a LLaMA block (GGUF tensor roles):
//
//   input of                  consumers (× s, columns)     producer (÷ s)
//   attn_norm output          attn_q, attn_k, attn_v        attn_norm.weight   fold_into_norm
//   ffn_norm output           ffn_gate, ffn_up              ffn_norm.weight    fold_into_norm
//   attention output          attn_output                   attn_v rows        fold_into_linear_rows
//   SwiGLU output             ffn_down                      ffn_up rows        fold_into_linear_rows
//
// Why these producers work: RMSNorm(x) ⊙ γ is linear in γ per channel; attention mixes V
// rows across tokens with weights that do not depend on V, so scaling V's output channels
// scales the attention output's channels; silu(gate) ⊙ up scales with up's rows. Not
// ffn_gate: silu is not linear. attn_v → attn_output only when n_kv_head == n_head: with GQA
// one V channel feeds n_head / n_kv_head attention-output channels, which would all need the
// same s (llm-awq skips the pair unless v_proj and o_proj have the same shape; do the same).
// A bias of the producer (none in LLaMA) is divided by s too.
//
// Order in a pipeline: fold and scale the fp32 weights first, then quantize the consumers
// (AWQ returns its consumers already scaled); the producer stays in float (norm weights are
// F32 in GGUF) or is quantized after its own rows were divided.
#pragma once

#include <cstdint>
#include <span>

namespace lowbit {

// A row-major float matrix by reference: rows × cols, element (r, c) at data[r·cols + c].
struct MatrixView {
  const float* data = nullptr;
  int64_t rows = 0, cols = 0;
};

// Throws Error unless s has `in` elements, all finite and > 0 (naming the first bad index).
void check_channel_scales(std::span<const float> s, int64_t in);

// W (rows × cols = s.size()): column j *= s_j. The consumers of the scaled input.
void scale_columns(float* W, int64_t rows, int64_t cols, std::span<const float> s);

// The RMSNorm weight γ (s.size() elements): γ_j /= s_j.
void fold_into_norm(std::span<float> norm_w, std::span<const float> s);

// The previous linear W_prev (rows = s.size() output channels × cols): row j /= s_j, and
// bias_j /= s_j when bias is not null.
void fold_into_linear_rows(float* W_prev, int64_t rows, int64_t cols, std::span<const float> s, float* bias = nullptr);

}  // namespace lowbit
