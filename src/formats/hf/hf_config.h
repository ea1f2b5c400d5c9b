// Hugging Face config.json for the LLaMA family: LlamaForCausalLM, MistralForCausalLM,
// Qwen2ForCausalLM (qkv bias). Only the fields a decoder needs; unknown architectures and
// missing/absurd fields are an Error naming the file and field, as are fields of the wrong
// JSON type and features the decoder does not implement (rope_scaling other than "default",
// hidden_act other than silu, mlp_bias, use_sliding_window). Mistral's sliding_window is
// ignored: it changes nothing until the context outgrows the window.
#pragma once

#include <string>

namespace lowbit {

struct HfConfig {
  std::string architecture;     // "LlamaForCausalLM", ...
  std::string model_type;       // "llama", "mistral", "qwen2"
  int hidden_size = 0;
  int intermediate_size = 0;
  int num_hidden_layers = 0;
  int num_attention_heads = 0;
  int num_key_value_heads = 0;  // defaults to num_attention_heads
  int head_dim = 0;             // defaults to hidden_size / num_attention_heads
  int vocab_size = 0;
  int max_position_embeddings = 2048;
  double rms_norm_eps = 1e-6;
  double rope_theta = 10000.0;
  bool tie_word_embeddings = false;
  bool qkv_bias = false;        // attention_bias, or always for Qwen2
  int bos_token_id = -1, eos_token_id = -1;
  std::string torch_dtype;
};

HfConfig hf_read_config(const std::string& path);   // path to config.json

}  // namespace lowbit
