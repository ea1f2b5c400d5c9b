// Tokenizer internals shared by tokenizer.cc (special tokens, encode/decode) and the two
// segmenters, tokenizer_spm.cc and tokenizer_bpe.cc.
#pragma once

#include <array>
#include <string>
#include <string_view>
#include <unordered_map>
#include <unordered_set>
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
  // SPM: every pair of adjacent characters found inside some token (spm_char_pair keys). No
  // merge can span a boundary between two characters not in here, so the text is segmented
  // there and each piece merged on its own: same result, small cache-friendly queues.
  std::unordered_set<uint64_t> spm_pairs;
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

// Key of two adjacent characters (each 1..4 bytes). Collisions only merge keys, which can
// only make a boundary look mergeable: never a wrong split.
inline uint64_t spm_char_pair(std::string_view a, std::string_view b) {
  uint64_t k = 0;
  for (char c : a) k = k << 8 | static_cast<uint8_t>(c);
  k <<= 32;
  uint32_t lo = 0;
  for (char c : b) lo = lo << 8 | static_cast<uint8_t>(c);
  return k | lo;
}

// text has had its spaces replaced by U+2581 (and the prefix added) already.
void spm_tokenize(const TokenizerState& t, std::string_view text, std::vector<int32_t>& out);
// One fragment of raw text (no special tokens in it): pre-tokenize, merge each word.
void bpe_tokenize(const TokenizerState& t, std::string_view text, std::vector<int32_t>& out);

}  // namespace lowbit
