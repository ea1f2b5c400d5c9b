// The shape of a LLaMA-family decoder, whatever file it came from.
#pragma once

#include <string>

namespace lowbit {

// How RoPE pairs the dimensions of a head. GGUF "llama" files and llama2.c rotate adjacent
// pairs (x[2i], x[2i+1]); Hugging Face checkpoints (and GGUF "qwen2") rotate halves
// (x[i], x[i + d/2]). Converting HF -> GGUF llama permutes q/k rows so both agree.
enum class RopeLayout { Interleaved, HalfSplit };

struct ModelConfig {
  std::string arch = "llama";   // GGUF general.architecture: "llama" or "qwen2"
  std::string name;
  int dim = 0;
  int n_layers = 0;
  int n_heads = 0;
  int n_kv_heads = 0;
  int head_dim = 0;
  int ffn_dim = 0;
  int vocab_size = 0;
  int max_seq = 0;
  float rope_theta = 10000.0f;
  float norm_eps = 1e-5f;
  RopeLayout rope_layout = RopeLayout::Interleaved;
  bool tied_embeddings = false;
  bool qkv_bias = false;

  int q_dim() const { return n_heads * head_dim; }
  int kv_dim() const { return n_kv_heads * head_dim; }
  void validate(const std::string& source) const;   // throws Error on an impossible shape
};

}  // namespace lowbit
