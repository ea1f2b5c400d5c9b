// Tokenizer internals shared by tokenizer.cc (special tokens, encode/decode) and the two
// segmenters, tokenizer_spm.cc and tokenizer_bpe.cc.
#pragma once

#include <array>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "core/vocab.h"
#include "model/tokenizer_pretokenize.h"

namespace lowbit {

// The state behind Tokenizer (its Impl derives from this; the segmenters see only this).
struct TokenizerState {
  Vocab vocab;
  // Keys point into vocab.tokens / vocab.merges, which never change after construction.
  std::unordered_map<std::string_view, int32_t> token_to_id;  // first id wins for duplicates
  std::unordered_map<std::string_view, int32_t> merge_rank;   // "left right" -> rank
  std::vector<int32_t> specials;        // control/user-defined/unknown ids, longest text first
  std::array<int32_t, 256> spm_byte{};  // SPM byte fallback per byte, -1 if none
  PreTokenizer pre = PreTokenizer::Default;
  bool ignore_merges = false;           // llama-3: a word that is a token is not merged

  int32_t find(std::string_view text) const {
    auto it = token_to_id.find(text);
    return it == token_to_id.end() ? -1 : it->second;
  }
  int32_t type(int32_t id) const {
    return static_cast<size_t>(id) < vocab.types.size() ? vocab.types[id] : kTokNormal;
  }
  float score(int32_t id) const {
    return static_cast<size_t>(id) < vocab.scores.size() ? vocab.scores[id] : 0.0f;
  }
  int32_t rank(std::string& key, std::string_view left, std::string_view right) const {
    key.assign(left).append(1, ' ').append(right);
    auto it = merge_rank.find(key);
    return it == merge_rank.end() ? -1 : it->second;
  }
};

// text has had its spaces replaced by U+2581 (and the prefix added) already.
void spm_tokenize(const TokenizerState& t, std::string_view text, std::vector<int32_t>& out);
// One fragment of raw text (no special tokens in it): pre-tokenize, merge each word.
void bpe_tokenize(const TokenizerState& t, std::string_view text, std::vector<int32_t>& out);

}  // namespace lowbit
