// Text <-> token ids, built from a Vocab, matching llama.cpp's tokenizers:
//  - SPM (llm_tokenizer_spm): optional "▁" prefix, spaces -> "▁", greedy bigram merges by
//    piece score, byte fallback (<0xNN>) for characters not in the vocab.
//  - BPE (llm_tokenizer_bpe): pre-tokenizer regex per Vocab::pre ("default", the "gpt-2",
//    "llama-bpe" and "starcoder" families; see model/tokenizer_pretokenize.h), GPT-2
//    byte-to-unicode map, merges applied by rank. Other pre names: the constructor throws Error.
// Verified id-for-id against llama.cpp (node-llama-cpp 3.21.1) on tok512, the 32k LLaMA SPM
// vocab and the tinystories BPE vocab (pre gpt-2 / default / llama-bpe / starcoder).
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "core/vocab.h"

namespace lowbit {

class Tokenizer {
 public:
  explicit Tokenizer(Vocab vocab);
  ~Tokenizer();
  Tokenizer(Tokenizer&&) noexcept;

  // add_special: prepend BOS when vocab.add_bos (and append EOS when vocab.add_eos).
  // parse_special: text like "<s>" / "<|end_of_text|>" maps to control tokens; off by default,
  // as in llama.cpp's tokenizer for plain text.
  std::vector<int32_t> encode(std::string_view text, bool add_special = true, bool parse_special = false) const;
  std::string token_to_piece(int32_t id) const;   // the bytes this token stands for (control -> "")
  // The concatenated pieces, less the one space an SPM vocab's add_space_prefix put before the
  // text, so decode(encode(s)) == s for valid UTF-8 (special tokens contribute nothing). For
  // streaming output use token_to_piece, which never strips.
  std::string decode(const std::vector<int32_t>& ids) const;

  const Vocab& vocab() const;
  int32_t n_vocab() const;
  int32_t bos() const;
  int32_t eos() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace lowbit
