// SentencePiece-BPE segmentation as llama.cpp's llm_tokenizer_spm_session does it: start
// from UTF-8 characters, repeatedly merge the adjacent pair whose concatenation is the
// highest-scoring vocab piece (leftmost on ties), then map pieces to ids, falling back to
// one <0xNN> token per byte for pieces not in the vocab. A priority queue of candidate
// pairs with lazy invalidation keeps it O(n log n), and cutting the text where no token can
// span (see TokenizerState::spm_pairs) keeps the queues small.
#include <cstdint>
#include <limits>
#include <queue>

#include "core/error.h"
#include "model/tokenizer_impl.h"
#include "model/unicode.h"

namespace lowbit {
namespace {

struct Symbol {
  int32_t prev, next;
  size_t start, n;  // bytes of text; n == 0 once merged into its left neighbour
};

struct Bigram {
  float score;
  int32_t left, right;
  size_t size;  // bytes of the pair when queued: stale once either side has changed
};

struct BigramOrder {  // "less" = lower priority: lower score, then further right
  bool operator()(const Bigram& a, const Bigram& b) const {
    return a.score < b.score || (a.score == b.score && a.left > b.left);
  }
};

}  // namespace

namespace {

// Merges one segment of text (a run of characters that merges may join) and appends its ids.
class SpmSegmenter {
 public:
  SpmSegmenter(const TokenizerState& t, std::string_view text) : t_(t), text_(text), queue_(BigramOrder{}) {}

  void run(size_t begin, size_t end, std::vector<int32_t>& out) {
    syms_.clear();
    for (size_t off = begin; off < end;) {
      const size_t n = std::min(unicode::utf8_len(text_[off]), end - off);
      const int32_t i = static_cast<int32_t>(syms_.size());
      syms_.push_back({i - 1, off + n == end ? -1 : i + 1, off, n});
      off += n;
    }
    if (syms_.empty()) return;
    for (int32_t i = 1; i < static_cast<int32_t>(syms_.size()); ++i) try_add(i - 1, i);

    while (!queue_.empty()) {
      const Bigram b = queue_.top();
      queue_.pop();
      Symbol& l = syms_[b.left];
      Symbol& r = syms_[b.right];
      if (l.n == 0 || r.n == 0 || l.n + r.n != b.size) continue;  // stale
      l.n += r.n;
      r.n = 0;
      l.next = r.next;
      if (r.next >= 0) syms_[r.next].prev = b.left;
      try_add(l.prev, b.left);
      try_add(b.left, l.next);
    }

    for (int32_t i = 0; i != -1; i = syms_[i].next) {
      const Symbol& s = syms_[i];
      const int32_t id = t_.find(text_.substr(s.start, s.n));
      if (id >= 0) {
        out.push_back(id);
        continue;
      }
      for (size_t j = 0; j < s.n; ++j) {
        const uint8_t byte = static_cast<uint8_t>(text_[s.start + j]);
        const int32_t bid = t_.spm_byte[byte];
        if (bid < 0)
          fail("tokenizer: cannot encode byte 0x{:02X}: the vocabulary has no <0x{:02X}> piece and no "
               "unknown token",
               byte, byte);
        out.push_back(bid);
      }
    }
  }

 private:
  void try_add(int32_t l, int32_t r) {
    if (l < 0 || r < 0) return;
    const size_t size = syms_[l].n + syms_[r].n;
    const int32_t id = t_.find(text_.substr(syms_[l].start, size));
    if (id < 0) return;
    queue_.push({t_.score(id), l, r, size});
  }

  const TokenizerState& t_;
  std::string_view text_;
  std::vector<Symbol> syms_;
  std::priority_queue<Bigram, std::vector<Bigram>, BigramOrder> queue_;
};

}  // namespace

void spm_tokenize(const TokenizerState& t, std::string_view text, std::vector<int32_t>& out) {
  if (text.size() >= static_cast<size_t>(std::numeric_limits<int32_t>::max()))
    fail("tokenizer: text of {} bytes is too long to tokenize at once", text.size());
  SpmSegmenter seg(t, text);
  // Cut the text between two characters that no token holds side by side.
  size_t seg_begin = 0, prev = 0, prev_n = 0;
  for (size_t off = 0; off < text.size();) {
    const size_t n = std::min(unicode::utf8_len(text[off]), text.size() - off);
    if (off > 0 && !t.spm_pairs.count(spm_char_pair(text.substr(prev, prev_n), text.substr(off, n)))) {
      seg.run(seg_begin, off, out);
      seg_begin = off;
    }
    prev = off;
    prev_n = n;
    off += n;
  }
  seg.run(seg_begin, text.size(), out);
}

}  // namespace lowbit
