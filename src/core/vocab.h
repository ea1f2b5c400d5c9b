// A tokenizer vocabulary as GGUF stores it (tokenizer.ggml.*), the common form every
// format's tokenizer is read into: llama2.c tokenizer.bin, Hugging Face tokenizer.json and
// GGUF all become a Vocab, and model/tokenizer.h builds the encoder from it.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace lowbit {

enum class VocabKind {
  Spm,  // "llama": SentencePiece pieces ("▁" for space), scores rank merges, <0xNN> byte fallback
  Bpe,  // "gpt2": byte-level BPE (GPT-2 byte-to-unicode map), ranked merges "a b"
};

// GGUF token types (tokenizer.ggml.token_type).
enum TokenType : int32_t {
  kTokNormal = 1, kTokUnknown = 2, kTokControl = 3, kTokUserDefined = 4, kTokUnused = 5, kTokByte = 6,
};

struct Vocab {
  VocabKind kind = VocabKind::Spm;
  std::vector<std::string> tokens;   // piece text, UTF-8 (SPM uses U+2581 for space)
  std::vector<float> scores;         // SPM merge priority (higher first); may be empty for BPE
  std::vector<int32_t> types;        // TokenType per token
  std::vector<std::string> merges;   // BPE merges "left right", highest priority first
  int32_t bos = -1, eos = -1, unk = -1, pad = -1;
  bool add_bos = true;
  bool add_eos = false;
  bool add_space_prefix = true;      // SPM: prepend "▁" to the text (llama.cpp's default)
  std::string pre = "default";       // tokenizer.ggml.pre: pre-tokenizer regex family ("gpt-2", ...)

  size_t size() const { return tokens.size(); }
};

}  // namespace lowbit
