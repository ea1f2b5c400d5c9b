// The Unicode pieces the tokenizers need, with llama.cpp's exact conventions (src/unicode.cpp):
// its lenient UTF-8 decoder (bad bytes become U+FFFD one byte at a time), codepoint classes
// for the pre-tokenizer regexes (\p{L}, \p{N}, \p{P}, \s) and GPT-2's byte <-> unicode map.
// Classes come from ICU: letter = general category L*, number = N*, punctuation = P*,
// whitespace = the White_Space property (the set llama.cpp hard-codes).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace lowbit::unicode {

// Bytes in the UTF-8 sequence a lead byte announces (1 for continuation bytes), as llama.cpp's
// unicode_len_utf8: the SPM tokenizer splits text into "characters" this way, unchecked.
inline size_t utf8_len(char lead) {
  static constexpr uint8_t kLen[16] = {1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 2, 2, 3, 4};
  return kLen[static_cast<uint8_t>(lead) >> 4];
}

// Codepoints of text. Malformed sequences (bad lead byte, missing continuation, truncation)
// give U+FFFD and skip one byte; overlong forms and surrogates decode as their bits say, as
// in llama.cpp. Values above U+10FFFF (which llama.cpp would fail to re-encode) give U+FFFD.
std::vector<uint32_t> decode_utf8(std::string_view text);
void append_utf8(uint32_t cpt, std::string& out);

enum CptClass : uint8_t {
  kLetter = 1,       // \p{L}
  kNumber = 2,       // \p{N}
  kWhitespace = 4,   // \s (White_Space)
  kPunctuation = 8,  // \p{P}
};
uint8_t cpt_class(uint32_t cpt);
inline bool is_letter(uint32_t c) { return cpt_class(c) & kLetter; }
inline bool is_number(uint32_t c) { return cpt_class(c) & kNumber; }
inline bool is_whitespace(uint32_t c) { return cpt_class(c) & kWhitespace; }
inline bool is_punctuation(uint32_t c) { return cpt_class(c) & kPunctuation; }
uint32_t to_lower(uint32_t cpt);  // simple case mapping

// GPT-2's bytes_to_unicode(): printable Latin-1 bytes map to themselves, the other 68 to
// U+0100.. in byte order, so every byte is a visible character. Returns its UTF-8.
const std::string& byte_to_gpt2(uint8_t b);
// The byte a GPT-2 character stands for, or -1 if cpt is not one of the 256.
int gpt2_to_byte(uint32_t cpt);

}  // namespace lowbit::unicode
