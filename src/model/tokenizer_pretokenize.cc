#include "model/tokenizer_pretokenize.h"

#include <array>

#include "core/error.h"
#include "model/unicode.h"

namespace lowbit {
namespace {

using unicode::cpt_class;
using unicode::kLetter;
using unicode::kNumber;
using unicode::kWhitespace;

// Each splitter refines a list of chunks (codepoint counts) into smaller ones, chunk by
// chunk, as llama.cpp applies one regex after another. Inside a chunk, positions past its
// end read as "nothing" (no class), the way llama.cpp's _get_flags returns {} there.
struct Chunk {
  const std::vector<uint32_t>& cpts;
  size_t ini, end;
  std::vector<size_t>& out;
  size_t prev;  // end of the last emitted word

  bool in(size_t p) const { return p < end; }
  uint32_t cpt(size_t p) const { return p < end ? cpts[p] : 0xFFFFFFFFu; }
  uint8_t cls(size_t p) const { return p < end ? cpt_class(cpts[p]) : 0; }
  size_t emit(size_t e) {
    const size_t len = e - prev;
    if (len > 0) out.push_back(len);
    prev = e;
    return len;
  }
};

template <typename F>
std::vector<size_t> for_each_chunk(const std::vector<uint32_t>& cpts, const std::vector<size_t>& chunks, F split) {
  std::vector<size_t> out;
  out.reserve(chunks.size() * 2);
  size_t start = 0;
  for (size_t len : chunks) {
    Chunk c{cpts, start, start + len, out, start};
    split(c);
    start += len;
  }
  return out;
}

bool is_contraction_letter(uint32_t c) { return c == 's' || c == 't' || c == 'm' || c == 'd'; }
bool is_contraction_pair(uint32_t a, uint32_t b) {
  return (a == 'r' && b == 'e') || (a == 'v' && b == 'e') || (a == 'l' && b == 'l');
}

// 's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+
// (llama.cpp's unicode_regex_split_custom_gpt2).
void split_gpt2(Chunk& c) {
  for (size_t pos = c.ini; pos < c.end;) {
    const uint32_t cp = c.cpts[pos];
    if (cp == '\'' && pos + 1 < c.end) {
      const uint32_t n1 = c.cpts[pos + 1];
      if (is_contraction_letter(n1)) {
        pos += c.emit(pos + 2);
        continue;
      }
      if (pos + 2 < c.end && is_contraction_pair(n1, c.cpts[pos + 2])) {
        pos += c.emit(pos + 3);
        continue;
      }
    }
    // The optional leading space: classify what follows it.
    const size_t p2 = cp == ' ' ? pos + 1 : pos;
    const uint8_t f2 = c.cls(p2);
    if (f2 & kLetter) {
      pos = p2;
      while (c.cls(pos) & kLetter) ++pos;
      c.emit(pos);
      continue;
    }
    if (f2 & kNumber) {
      pos = p2;
      while (c.cls(pos) & kNumber) ++pos;
      c.emit(pos);
      continue;
    }
    constexpr uint8_t kWordish = kWhitespace | kLetter | kNumber;
    if (c.in(p2) && !(f2 & kWordish)) {
      pos = p2;
      while (c.in(pos) && !(c.cls(pos) & kWordish)) ++pos;
      c.emit(pos);
      continue;
    }
    size_t nws = 0;
    while (c.cls(pos + nws) & kWhitespace) ++nws;
    if (nws > 1 && c.in(pos + nws)) {  // \s+(?!\S): leave the last space to the next word
      pos += nws - 1;
      c.emit(pos);
      continue;
    }
    if (nws > 0) {
      pos += nws;
      c.emit(pos);
      continue;
    }
    c.emit(++pos);
  }
}

// (?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+
// (llama.cpp's unicode_regex_split_custom_llama3).
void split_llama3(Chunk& c) {
  auto is_rn = [](uint32_t x) { return x == '\r' || x == '\n'; };
  for (size_t pos = c.ini; pos < c.end;) {
    const uint32_t cp = c.cpts[pos];
    const uint8_t f = c.cls(pos);
    if (cp == '\'' && pos + 1 < c.end) {
      const uint32_t n1 = unicode::to_lower(c.cpts[pos + 1]);
      if (is_contraction_letter(n1)) {
        pos += c.emit(pos + 2);
        continue;
      }
      if (pos + 2 < c.end && is_contraction_pair(n1, unicode::to_lower(c.cpts[pos + 2]))) {
        pos += c.emit(pos + 3);
        continue;
      }
    }
    if (!(is_rn(cp) || (f & kNumber)) && ((f & kLetter) || (c.cls(pos + 1) & kLetter))) {
      ++pos;
      while (c.cls(pos) & kLetter) ++pos;
      c.emit(pos);
      continue;
    }
    if (f & kNumber) {
      size_t ini = pos;
      while (c.cls(pos) & kNumber) {
        if (++pos - ini >= 3) {
          c.emit(pos);
          ini = pos;
        }
      }
      c.emit(pos);
      continue;
    }
    constexpr uint8_t kWordish = kWhitespace | kLetter | kNumber;
    const size_t p2 = cp == ' ' ? pos + 1 : pos;
    if (!(c.cls(p2) & kWordish)) {  // (llama.cpp tests the current position for "in range")
      pos = p2;
      while (c.in(pos) && !(c.cls(pos) & kWordish)) ++pos;
      while (c.in(pos) && is_rn(c.cpts[pos])) ++pos;
      c.emit(pos);
      continue;
    }
    size_t nws = 0, last_rn = 0;
    while (c.cls(pos + nws) & kWhitespace) {
      if (is_rn(c.cpts[pos + nws])) last_rn = pos + nws + 1;
      ++nws;
    }
    if (last_rn > 0) {
      pos = last_rn;
      c.emit(pos);
      continue;
    }
    if (nws > 1 && c.in(pos + nws)) {
      pos += nws - 1;
      c.emit(pos);
      continue;
    }
    if (nws > 0) {
      pos += nws;
      c.emit(pos);
      continue;
    }
    c.emit(++pos);
  }
}

// A "[class]+" regex run by std::regex over a chunk: maximal runs of the class are words,
// and so are the gaps between them.
template <typename Pred>
void split_runs(Chunk& c, Pred in_class) {
  size_t pos = c.ini;
  while (pos < c.end) {
    const bool k = in_class(c.cpts[pos]);
    while (pos < c.end && in_class(c.cpts[pos]) == k) ++pos;
    c.emit(pos);
  }
}

// "[\p{P}\$\+<=>\^~\|]+" as llama.cpp evaluates it: ASCII punctuation and symbols except
// '`', and non-ASCII characters of category P.
bool is_default_punct(uint32_t c) {
  if (c < 128) return c > 0x20 && c < 0x7F && c != '`' && !((c >= '0' && c <= '9') || ((c | 0x20) >= 'a' && (c | 0x20) <= 'z'));
  const uint8_t f = cpt_class(c);
  return (f & unicode::kPunctuation) && !(f & kWhitespace);
}

// "[0-9][0-9][0-9]": leftmost non-overlapping triples of ASCII digits; the rest are gaps.
void split_digit_triples(Chunk& c) {
  auto digit = [&](size_t p) { return p < c.end && c.cpts[p] >= '0' && c.cpts[p] <= '9'; };
  size_t pos = c.ini;
  while (pos < c.end) {
    if (digit(pos) && digit(pos + 1) && digit(pos + 2)) {
      c.emit(pos);
      pos += 3;
      c.emit(pos);
    } else {
      ++pos;
    }
  }
  c.emit(c.end);
}

// "\p{N}": every number character alone.
void split_each_number(Chunk& c) {
  for (size_t pos = c.ini; pos < c.end; ++pos) {
    if (cpt_class(c.cpts[pos]) & kNumber) {
      c.emit(pos);
      c.emit(pos + 1);
    }
  }
  c.emit(c.end);
}

}  // namespace

PreTokenizer pre_tokenizer_from_name(std::string_view pre) {
  static constexpr std::string_view kGpt2[] = {"gpt-2", "phi-2", "jina-es", "jina-de", "gigachat",
                                               "jina-v2-es", "jina-v2-de", "a.x-4.0", "mellum",
                                               "modern-bert", "mpt", "olmo", "jais", "trillion",
                                               "granite-docling", "exaone4", "jina-v1-en",
                                               "jina-v2-code", "roberta-bpe"};
  static constexpr std::string_view kLlama3[] = {"llama3", "llama-v3", "llama-bpe", "falcon3", "falcon-h1",
                                                 "pixtral", "midm-2.0", "lfm2", "dbrx", "smaug-bpe"};
  static constexpr std::string_view kStarcoder[] = {"starcoder", "refact", "command-r", "smollm",
                                                    "codeshell", "exaone", "minerva-7b"};
  if (pre.empty() || pre == "default") return PreTokenizer::Default;
  for (auto n : kGpt2)
    if (pre == n) return PreTokenizer::Gpt2;
  for (auto n : kLlama3)
    if (pre == n) return PreTokenizer::Llama3;
  for (auto n : kStarcoder)
    if (pre == n) return PreTokenizer::Starcoder;
  fail("tokenizer: unsupported BPE pre-tokenizer '{}' (supported: default, the gpt-2 family "
       "(gpt-2, mpt, olmo, ...), the llama-3 family (llama-bpe, llama3, ...), the starcoder family)",
       pre);
}

std::vector<size_t> pre_tokenize_lengths(const std::vector<uint32_t>& cpts, PreTokenizer pre) {
  std::vector<size_t> chunks{cpts.size()};
  if (cpts.empty()) return {};
  switch (pre) {
    case PreTokenizer::Default:
      chunks = for_each_chunk(cpts, chunks, [](Chunk& c) { split_runs(c, is_default_punct); });
      chunks = for_each_chunk(cpts, chunks, split_gpt2);
      chunks = for_each_chunk(cpts, chunks, [](Chunk& c) { split_runs(c, unicode::is_number); });
      chunks = for_each_chunk(cpts, chunks, split_digit_triples);
      break;
    case PreTokenizer::Gpt2:
      chunks = for_each_chunk(cpts, chunks, split_gpt2);
      break;
    case PreTokenizer::Starcoder:
      chunks = for_each_chunk(cpts, chunks, split_each_number);
      chunks = for_each_chunk(cpts, chunks, split_gpt2);
      break;
    case PreTokenizer::Llama3:
      chunks = for_each_chunk(cpts, chunks, split_llama3);
      break;
  }
  return chunks;
}

void pre_tokenize(std::string_view text, PreTokenizer pre, std::vector<std::string>& words) {
  const std::vector<uint32_t> cpts = unicode::decode_utf8(text);
  const std::vector<size_t> lens = pre_tokenize_lengths(cpts, pre);
  std::string utf8;
  size_t start = 0;
  for (size_t len : lens) {
    utf8.clear();
    for (size_t i = start; i < start + len; ++i) unicode::append_utf8(cpts[i], utf8);
    std::string& w = words.emplace_back();
    w.reserve(utf8.size() * 2);
    for (char b : utf8) w += unicode::byte_to_gpt2(static_cast<uint8_t>(b));
    start += len;
  }
}

}  // namespace lowbit
