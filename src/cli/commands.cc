#include "cli/commands.h"

namespace lowbit::cli {

const std::vector<Command>& commands() {
  static const std::vector<Command> k = {
      {"inspect", "show a model's metadata, tensors, types, parameter count and bits per weight", cmd_inspect},
      {"convert", "convert llama2.c / Hugging Face / GGUF to GGUF (f32, f16, bf16)", cmd_convert},
      {"calibrate", "collect calibration statistics: imatrix (llama.cpp format), absmax, activation ranges", cmd_calibrate},
      {"quantize", "quantize to llama.cpp block formats with named mixes (Q4_K_M, Q8_0, ...)", cmd_quantize},
      {"run", "generate text from a prompt (greedy or sampled), with tokens per second", cmd_run},
      {"perplexity", "perplexity over a text file, llama-perplexity style; save logits / KL divergence", cmd_perplexity},
      {"bench", "prompt and generation tokens/s, llama-bench style, and generation against the memory roofline", cmd_bench},
      {"synth", "write a LLaMA-shaped model with random weights (TinyLlama, LLaMA-7B layers...) for speed work", cmd_synth},
  };
  return k;
}

}  // namespace lowbit::cli
