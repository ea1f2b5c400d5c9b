// Synthetic LLaMA-shaped models for speed and memory work: the real shapes of well-known
// models (TinyLlama 1.1B, one layer of LLaMA-7B, ...) with random weights, written as GGUF
// in any named mix. Nothing about them is meaningful except their size and layout, which is
// all a tokens-per-second or peak-memory measurement looks at.
//
// Weights: each matrix element is normal(0, 0.02)-ish (an Irwin-Hall sum of four uniforms,
// scaled to sd 0.02, so bounded by +-3.46 sd and cheap to draw); norms are 1. Every row has
// its own generator seeded from (seed, tensor index, row), so a file depends only on the
// preset, mix and seed, never on the thread count. Tensors are made one at a time, quantized
// at once with the mix's rules (choose_tensor_type, the same as `quantize`) and streamed to
// the file (GgufStreamWriter, atomic), so the peak memory is one fp32 tensor plus its
// quantized bytes (for TinyLlama, the 262 MB fp32 embedding table), never a whole fp32 model
// (4.4 GB) or even the whole quantized one.
//
// Vocabulary: a synthetic SentencePiece one that llama.cpp loads: <unk>, <s>, </s>, the 256
// byte-fallback tokens <0x00>..<0xFF>, then "▁" and the printable ASCII characters (so text
// tokenizes and detokenizes sensibly), then filler pieces "▁w0", "▁w1", ... up to the vocab
// size; scores descend from 0.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "core/vocab.h"
#include "model/config.h"
#include "quant/pipeline/quantize_model.h"

namespace lowbit {

// One row per preset: the shape of a model lowbit pretends to be.
struct SynthPreset {
  const char* name;        // "tinyllama-1.1b"
  int dim, ffn_dim, n_layers, n_heads, n_kv_heads, vocab_size, max_seq;
  const char* summary;
};

const std::vector<SynthPreset>& synth_presets();
const SynthPreset* find_synth_preset(const std::string& name);   // exact name

ModelConfig synth_config(const SynthPreset& p);
// <unk>, <s>, </s>, 256 byte tokens, "▁", printable ASCII, then "▁w<i>" pieces; vocab_size > 259.
Vocab synth_vocab(int vocab_size);

struct SynthOptions {
  std::string preset = "tiny";
  std::string mix = "Q4_0";
  uint64_t seed = 1;
  bool progress = true;
};

// Generates, quantizes and writes the model atomically to out_path; the report is the same
// as quantize_model's (types chosen, sizes, bits per weight, seconds).
QuantizeReport synthesize_model(const std::string& out_path, const SynthOptions& opts);

}  // namespace lowbit
