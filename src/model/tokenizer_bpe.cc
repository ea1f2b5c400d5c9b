// Byte-level BPE as llama.cpp's llm_tokenizer_bpe_session does it: pre-tokenize into
// byte-encoded words, then within each word repeatedly merge the adjacent pair with the
// lowest merge rank (leftmost on ties), and map the resulting symbols to ids. A symbol that
// is not a vocab token falls back to the tokens of its single bytes where those exist
// (llama.cpp silently drops the others; with a complete byte-level vocab this never happens).
#include <cstdint>
#include <queue>

#include "model/tokenizer_impl.h"
#include "model/unicode.h"

namespace lowbit {
namespace {

struct Symbol {
  int32_t prev, next;
  size_t start, n;
};

struct Bigram {
  int32_t rank;
  int32_t left, right;
  size_t size;
};

struct BigramOrder {  // "less" = lower priority: higher rank, then further right
  bool operator()(const Bigram& a, const Bigram& b) const {
    return a.rank > b.rank || (a.rank == b.rank && a.left > b.left);
  }
};

class WordMerger {
 public:
  explicit WordMerger(const TokenizerState& t) : t_(t), queue_(BigramOrder{}) {}

  void tokenize(const std::string& word, std::vector<int32_t>& out) {
    if (t_.ignore_merges) {
      const int32_t id = t_.find(word);
      if (id >= 0) {
        out.push_back(id);
        return;
      }
    }
    word_ = word;
    syms_.clear();
    for (size_t off = 0; off < word.size();) {
      const size_t n = std::min(unicode::utf8_len(word[off]), word.size() - off);
      const int32_t i = static_cast<int32_t>(syms_.size());
      syms_.push_back({i - 1, off + n == word.size() ? -1 : i + 1, off, n});
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
      const std::string_view s = std::string_view(word_).substr(syms_[i].start, syms_[i].n);
      const int32_t id = t_.find(s);
      if (id >= 0) {
        out.push_back(id);
        continue;
      }
      for (char byte : s) {
        const int32_t bid = t_.find(std::string_view(&byte, 1));
        if (bid >= 0) out.push_back(bid);
      }
    }
  }

 private:
  void try_add(int32_t l, int32_t r) {
    if (l < 0 || r < 0) return;
    const std::string_view w(word_);
    const int32_t rank = t_.rank(key_, w.substr(syms_[l].start, syms_[l].n), w.substr(syms_[r].start, syms_[r].n));
    if (rank < 0) return;
    queue_.push({rank, l, r, syms_[l].n + syms_[r].n});
  }

  const TokenizerState& t_;
  std::string word_, key_;
  std::vector<Symbol> syms_;
  std::priority_queue<Bigram, std::vector<Bigram>, BigramOrder> queue_;
};

}  // namespace

void bpe_tokenize(const TokenizerState& t, std::string_view text, std::vector<int32_t>& out) {
  std::vector<std::string> words;
  pre_tokenize(text, t.pre, words);
  WordMerger merger(t);
  for (const std::string& w : words) merger.tokenize(w, out);
}

}  // namespace lowbit
