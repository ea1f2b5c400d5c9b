// The LLaMA-family decoder, fp32: RMSNorm -> attention (RoPE, grouped-query, KV cache)
// -> residual -> RMSNorm -> SwiGLU MLP -> residual; final RMSNorm and output projection.
// Prompts run as batches (matrix-matrix products); decode runs one token at a time.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "model/model_file.h"
#include "model/weights.h"

namespace lowbit {

class LlamaModel {
 public:
  // n_ctx: KV cache length (0 = the model's max_seq). The ModelFile must outlive the model.
  LlamaModel(const ModelFile& file, int n_ctx = 0);

  const ModelConfig& config() const { return cfg_; }
  int n_ctx() const { return n_ctx_; }
  int n_past() const { return n_past_; }
  const LlamaWeights& weights() const { return w_; }
  void reset() { n_past_ = 0; }

  // Runs tokens at positions n_past()..; appends to the KV cache. Writes logits for every
  // token (tokens.size() x vocab) when all_logits, else only for the last one (1 x vocab).
  void eval(std::span<const int32_t> tokens, bool all_logits, std::vector<float>& logits);

 private:
  void forward_batch(const int32_t* tokens, int n, bool all_logits, float* logits);

  ModelConfig cfg_;
  LlamaWeights w_;
  int n_ctx_;
  int n_past_ = 0;
  std::vector<float> k_cache_, v_cache_;   // [layer][pos][kv_dim]
  std::vector<float> rope_cos_, rope_sin_; // [pos][head_dim/2]
  int max_batch_ = 256;
  // Scratch, sized for max_batch_.
  std::vector<float> x_, xb_, q_, k_, v_, att_out_, proj_, gate_, up_;
  std::vector<uint8_t> qscratch_;   // activations in the weights' partner format
};

}  // namespace lowbit
