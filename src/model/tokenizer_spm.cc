// SentencePiece-BPE segmentation as llama.cpp's llm_tokenizer_spm_session does it: start
// from UTF-8 characters, repeatedly merge the adjacent pair whose concatenation is the
// highest-scoring vocab piece (leftmost on ties), then map pieces to ids, falling back to
// one <0xNN> token per byte for pieces not in the vocab. A priority queue of candidate
// pairs with lazy invalidation keeps it O(n log n).
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

void spm_tokenize(const TokenizerState& t, std::string_view text, std::vector<int32_t>& out) {
  if (text.size() >= static_cast<size_t>(std::numeric_limits<int32_t>::max()))
    fail("tokenizer: text of {} bytes is too long to tokenize at once", text.size());
  std::vector<Symbol> syms;
  syms.reserve(text.size());
  for (size_t off = 0; off < text.size();) {
    const size_t n = std::min(unicode::utf8_len(text[off]), text.size() - off);
    const int32_t i = static_cast<int32_t>(syms.size());
    syms.push_back({i - 1, off + n == text.size() ? -1 : i + 1, off, n});
    off += n;
  }
  if (syms.empty()) return;

  std::vector<Bigram> storage;
  storage.reserve(syms.size());
  std::priority_queue<Bigram, std::vector<Bigram>, BigramOrder> queue(BigramOrder{}, std::move(storage));
  auto try_add = [&](int32_t l, int32_t r) {
    if (l < 0 || r < 0) return;
    const size_t size = syms[l].n + syms[r].n;
    const int32_t id = t.find(text.substr(syms[l].start, size));
    if (id < 0) return;
    queue.push({t.score(id), l, r, size});
  };
  for (int32_t i = 1; i < static_cast<int32_t>(syms.size()); ++i) try_add(i - 1, i);

  while (!queue.empty()) {
    const Bigram b = queue.top();
    queue.pop();
    Symbol& l = syms[b.left];
    Symbol& r = syms[b.right];
    if (l.n == 0 || r.n == 0 || l.n + r.n != b.size) continue;  // stale
    l.n += r.n;
    r.n = 0;
    l.next = r.next;
    if (r.next >= 0) syms[r.next].prev = b.left;
    try_add(l.prev, b.left);
    try_add(b.left, l.next);
  }

  for (int32_t i = 0; i != -1; i = syms[i].next) {
    const Symbol& s = syms[i];
    const int32_t id = t.find(text.substr(s.start, s.n));
    if (id >= 0) {
      out.push_back(id);
      continue;
    }
    for (size_t j = 0; j < s.n; ++j) {
      const uint8_t byte = static_cast<uint8_t>(text[s.start + j]);
      const int32_t bid = t.spm_byte[byte];
      if (bid < 0)
        fail("tokenizer: cannot encode byte 0x{:02X}: the vocabulary has no <0x{:02X}> piece and no unknown token",
             byte, byte);
      out.push_back(bid);
    }
  }
}

}  // namespace lowbit
