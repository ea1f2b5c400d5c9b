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

// The inputs of the linear layers, as calibration sees them: AttnIn feeds q/k/v, AttnOut
// feeds the output projection, FfnIn feeds gate/up, FfnDownIn feeds down, OutputIn feeds the
// vocabulary projection (after the final norm).
enum class LinearInput { AttnIn, AttnOut, FfnIn, FfnDownIn, OutputIn };   // OutputIn: layer -1

class ActivationHook {
 public:
  virtual ~ActivationHook() = default;
  // X: n rows of cols floats, valid only during the call.
  virtual void on_input(int layer, LinearInput which, const float* X, int n, int cols) = 0;
};

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

  // Layer-at-a-time access for calibration and layer-wise quantization: x holds n rows of
  // dim floats (updated in place) at positions pos0.. (the layer's KV cache is overwritten).
  void embed(const int32_t* tokens, int n, float* x) const;
  void forward_layer(int layer, float* x, int n, int pos0);
  void logits_of(const float* x, int n, float* logits);   // final norm + output projection
  void set_hook(ActivationHook* hook) { hook_ = hook; }
  LayerWeights& layer_weights(int layer) { return w_.layers[layer]; }

 private:
  void forward_batch(const int32_t* tokens, int n, bool all_logits, float* logits);

  ModelConfig cfg_;
  LlamaWeights w_;
  int n_ctx_;
  int n_past_ = 0;
  std::vector<float> k_cache_, v_cache_;   // [layer][pos][kv_dim]
  std::vector<float> rope_cos_, rope_sin_; // [pos][head_dim/2]
  int max_batch_ = 256;
  ActivationHook* hook_ = nullptr;
  // Scratch, sized for max_batch_.
  std::vector<float> x_, xb_, q_, k_, v_, att_out_, proj_, gate_, up_;
  std::vector<uint8_t> qscratch_;   // activations in the weights' partner format
};

}  // namespace lowbit
