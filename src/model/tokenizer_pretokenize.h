// BPE pre-tokenizers: split text into words the way llama.cpp's unicode_regex_split does for
// each tokenizer.ggml.pre family, then map each word's UTF-8 bytes through GPT-2's byte
// encoder. The regexes are hand-written scanners (linear time, Unicode classes from ICU)
// that reproduce llama.cpp's custom splitters and its std::regex fallbacks match for match.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace lowbit {

enum class PreTokenizer {
  // "default" (and ""): llama.cpp's fallback set, applied in turn:
  //   [\p{P}\$\+<=>\^~\|]+ , the GPT-2 regex, \p{N}+ , [0-9][0-9][0-9]
  Default,
  // "gpt-2", "phi-2", "mpt", "olmo", ...:
  //   's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+
  Gpt2,
  // "starcoder", "refact", "command-r", "smollm", ...: \p{N} (digits one by one), then GPT-2.
  Starcoder,
  // "llama-bpe", "llama3", "llama-v3", ...:
  //   (?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+
  Llama3,
};

// Throws Error naming the supported families for an unknown name.
PreTokenizer pre_tokenizer_from_name(std::string_view pre);

// Appends the byte-encoded words of text to words.
void pre_tokenize(std::string_view text, PreTokenizer pre, std::vector<std::string>& words);

// The same split as codepoint lengths of the words (for tests: no byte encoding).
std::vector<size_t> pre_tokenize_lengths(const std::vector<uint32_t>& cpts, PreTokenizer pre);

}  // namespace lowbit
