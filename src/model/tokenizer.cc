// Tokenizer: special-token splitting, the SPM / BPE dispatch and detokenization, following
// llama.cpp's llama_vocab::impl::tokenize / token_to_piece (src/llama-vocab.cpp).
#include "model/tokenizer.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include "core/error.h"
#include "model/tokenizer_impl.h"
#include "model/unicode.h"

namespace lowbit {

struct Tokenizer::Impl : TokenizerState {};

namespace {

constexpr std::string_view kSpace = "\xE2\x96\x81";  // U+2581, SentencePiece's space

// A stretch of the input: raw text still to be segmented, or an already-recognised token.
struct Fragment {
  int32_t id;  // -1 for raw text
  size_t off, len;
};

bool is_special_type(int32_t type) {
  return type == kTokControl || type == kTokUserDefined || type == kTokUnknown;
}

int parse_hex_byte(std::string_view piece) {  // "<0xNN>" -> NN, else -1
  if (piece.size() != 6 || piece.substr(0, 3) != "<0x" || piece[5] != '>') return -1;
  int v = 0;
  for (char c : piece.substr(3, 2)) {
    v <<= 4;
    if (c >= '0' && c <= '9') v |= c - '0';
    else if (c >= 'A' && c <= 'F') v |= c - 'A' + 10;
    else if (c >= 'a' && c <= 'f') v |= c - 'a' + 10;
    else return -1;
  }
  return v;
}

}  // namespace

Tokenizer::Tokenizer(Vocab vocab) : impl_(std::make_unique<Impl>()) {
  Impl& t = *impl_;
  t.vocab = std::move(vocab);
  Vocab& v = t.vocab;
  if (v.tokens.size() >= static_cast<size_t>(std::numeric_limits<int32_t>::max()))
    fail("tokenizer: {} tokens is more than 32-bit ids can address", v.tokens.size());
  const int32_t n = static_cast<int32_t>(v.tokens.size());
  for (int32_t* id : {&v.bos, &v.eos, &v.unk, &v.pad})
    if (*id < 0 || *id >= n) *id = -1;
  // A NaN score would break the merge queue's ordering; rank it last instead.
  for (float& s : v.scores)
    if (std::isnan(s)) s = -std::numeric_limits<float>::infinity();

  t.token_to_id.reserve(v.tokens.size());
  for (int32_t i = 0; i < n; ++i) t.token_to_id.emplace(v.tokens[i], i);

  for (int32_t i = 0; i < n; ++i)
    if (is_special_type(t.type(i)) && !v.tokens[i].empty()) t.specials.push_back(i);
  std::stable_sort(t.specials.begin(), t.specials.end(),
                   [&](int32_t a, int32_t b) { return v.tokens[a].size() > v.tokens[b].size(); });

  if (v.kind == VocabKind::Spm) {
    // llama.cpp's byte_to_token: "<0xNN>", else the byte itself as a piece; we add unk.
    for (int b = 0; b < 256; ++b) {
      int32_t id = t.find(fmt::format("<0x{:02X}>", b));
      if (id < 0) id = t.find(std::string(1, static_cast<char>(b)));
      if (id < 0) id = v.unk;
      t.spm_byte[b] = id;
    }
    for (const std::string& tok : v.tokens) {
      const std::string_view s(tok);
      size_t prev = 0, prev_n = 0;
      for (size_t off = 0; off < s.size();) {
        const size_t len = std::min(unicode::utf8_len(s[off]), s.size() - off);
        if (off > 0) t.spm_pairs.insert(spm_char_pair(s.substr(prev, prev_n), s.substr(off, len)));
        prev = off;
        prev_n = len;
        off += len;
      }
    }
  } else {
    t.pre = pre_tokenizer_from_name(v.pre);
    t.ignore_merges = t.pre == PreTokenizer::Llama3;
    t.merge_rank.reserve(v.merges.size());
    for (size_t i = 0; i < v.merges.size() && i < static_cast<size_t>(std::numeric_limits<int32_t>::max()); ++i)
      t.merge_rank.emplace(v.merges[i], static_cast<int32_t>(i));
  }
}

Tokenizer::~Tokenizer() = default;
Tokenizer::Tokenizer(Tokenizer&&) noexcept = default;

const Vocab& Tokenizer::vocab() const { return impl_->vocab; }
int32_t Tokenizer::n_vocab() const { return static_cast<int32_t>(impl_->vocab.tokens.size()); }
int32_t Tokenizer::bos() const { return impl_->vocab.bos; }
int32_t Tokenizer::eos() const { return impl_->vocab.eos; }

std::vector<int32_t> Tokenizer::encode(std::string_view text, bool add_special, bool parse_special) const {
  const Impl& t = *impl_;
  const Vocab& v = t.vocab;

  // Split out special-token texts, longest first. User-defined tokens are always split out;
  // control and unknown ones only when parse_special (llama.cpp's tokenizer_st_partition).
  std::vector<Fragment> frags;
  if (!text.empty()) frags.push_back({-1, 0, text.size()});
  std::vector<Fragment> next;
  for (int32_t id : t.specials) {
    if (!parse_special && t.type(id) != kTokUserDefined) continue;
    const std::string& s = v.tokens[id];
    next.clear();
    for (const Fragment& f : frags) {
      if (f.id >= 0) {
        next.push_back(f);
        continue;
      }
      size_t pos = f.off;
      const size_t end = f.off + f.len;
      while (pos < end) {
        const size_t m = text.substr(0, end).find(s, pos);
        if (m == std::string_view::npos) break;
        if (m > pos) next.push_back({-1, pos, m - pos});
        next.push_back({id, m, s.size()});
        pos = m + s.size();
      }
      if (pos < end) next.push_back({-1, pos, end - pos});
    }
    frags.swap(next);
  }

  std::vector<int32_t> out;
  out.reserve(text.size() / 3 + 2);
  if (add_special && v.add_bos && v.bos >= 0) out.push_back(v.bos);
  if (v.kind == VocabKind::Spm) {
    bool prev_special = true;  // the first fragment gets the space prefix too
    std::string buf;
    for (const Fragment& f : frags) {
      if (f.id >= 0) {
        out.push_back(f.id);
        prev_special = true;
        continue;
      }
      buf.clear();
      if (v.add_space_prefix && prev_special) buf += kSpace;
      for (char c : text.substr(f.off, f.len)) {
        if (c == ' ') buf += kSpace;
        else buf += c;
      }
      spm_tokenize(t, buf, out);
      prev_special = false;
    }
  } else {
    for (const Fragment& f : frags) {
      if (f.id >= 0) out.push_back(f.id);
      else bpe_tokenize(t, text.substr(f.off, f.len), out);
    }
  }
  if (add_special && v.add_eos && v.eos >= 0) out.push_back(v.eos);
  return out;
}

std::string Tokenizer::token_to_piece(int32_t id) const {
  const Impl& t = *impl_;
  if (id < 0 || id >= n_vocab()) return "";
  const std::string& text = t.vocab.tokens[id];
  switch (t.type(id)) {
    case kTokUserDefined:
      return text;
    case kTokNormal:
      if (t.vocab.kind == VocabKind::Spm) {
        std::string s;
        s.reserve(text.size());
        for (size_t i = 0; i < text.size();) {
          if (text.compare(i, kSpace.size(), kSpace) == 0) {
            s += ' ';
            i += kSpace.size();
          } else {
            s += text[i++];
          }
        }
        return s;
      } else {
        // Undo the GPT-2 byte encoding; a character outside the map is kept as it is.
        std::string s;
        std::string utf8;
        for (uint32_t c : unicode::decode_utf8(text)) {
          const int b = unicode::gpt2_to_byte(c);
          if (b >= 0) {
            s += static_cast<char>(b);
          } else {
            utf8.clear();
            unicode::append_utf8(c, utf8);
            s += utf8;
          }
        }
        return s;
      }
    case kTokByte: {
      const int b = parse_hex_byte(text);
      return b >= 0 ? std::string(1, static_cast<char>(b)) : std::string();
    }
    default:  // control, unknown, unused, undefined: no text
      return "";
  }
}

std::string Tokenizer::decode(const std::vector<int32_t>& ids) const {
  const Vocab& v = impl_->vocab;
  std::string out;
  bool strip_space = v.kind == VocabKind::Spm && v.add_space_prefix;
  for (int32_t id : ids) {
    std::string p = token_to_piece(id);
    if (p.empty()) continue;
    if (strip_space && p[0] == ' ') p.erase(0, 1);
    strip_space = false;
    out += p;
  }
  return out;
}

}  // namespace lowbit
