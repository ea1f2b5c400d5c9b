// A model opened from any supported file: llama2.c .bin, a Hugging Face directory (or its
// model.safetensors / config.json), or GGUF. Everything is presented the GGUF way: tensors
// named by role (token_embd.weight, blk.N.attn_q.weight, ...) in ggml shape order, the
// vocabulary as a Vocab, and the original GGUF metadata kept for round trips.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "core/tensor_ref.h"
#include "core/vocab.h"
#include "formats/gguf/gguf.h"
#include "model/config.h"

namespace lowbit {

enum class ModelFormat { Gguf, HuggingFace, Llama2c };
const char* model_format_name(ModelFormat f);

struct ModelFile {
  std::string path;
  ModelFormat format = ModelFormat::Gguf;
  ModelConfig config;
  Vocab vocab;
  bool has_vocab = false;
  std::vector<TensorRef> tensors;                      // GGUF names, file order
  std::vector<std::pair<std::string, GgufValue>> kv;   // GGUF only: all metadata as read
  std::vector<std::shared_ptr<void>> keepalive;        // maps and owned buffers behind `tensors`
  std::vector<std::pair<const uint8_t*, size_t>> mapped;  // read-only file maps among them

  // Drops a tensor's pages from the resident set when it lives in a file map (no-op for
  // owned buffers, whose contents would be lost).
  void release(const TensorRef& t) const;

  const TensorRef* find(const std::string& name) const;
  const TensorRef& get(const std::string& name) const;  // Error naming the tensor if missing
};

struct OpenOptions {
  std::string tokenizer;   // llama2.c: explicit tokenizer.bin (else found beside the checkpoint)
  bool vocab_only = false; // GGUF: accept files without tensors (tokenizer-only GGUFs)
};

// Detects the format from the path (directory -> HF; "GGUF" magic -> GGUF; else llama2.c).
ModelFile open_model(const std::string& path, const OpenOptions& opts = {});

// Checks that every tensor the config implies is present with the right shape.
void check_model_tensors(const ModelFile& m);

// Hugging Face tensor names <-> GGUF names ("model.layers.3.mlp.down_proj.weight" <->
// "blk.3.ffn_down.weight"); "" when the name has no counterpart.
std::string hf_to_gguf_name(const std::string& hf);
std::string gguf_to_hf_name(const std::string& gguf);

// The tensors in the order lowbit writes them (llama.cpp's): token_embd, then block by block
// (each block's tensors in source order), then the rest (output_norm, output). Error when a
// tensor name is not understood.
std::vector<const TensorRef*> tensors_in_file_order(const ModelFile& m);

}  // namespace lowbit
