#include "calib/dataset.h"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <random>
#include <sstream>

#include "core/error.h"

namespace lowbit {

CalibData load_calibration(const Tokenizer& tok, const std::vector<std::string>& files, const CalibDataOptions& o) {
  if (o.n_seq <= 0 || o.seq_len < 2) fail("calibration needs at least 1 sequence of 2 tokens");
  if (files.empty()) fail("calibration needs at least one text file (--calib / -f)");
  CalibData d;
  std::vector<int32_t> all;
  for (const auto& f : files) {
    std::ifstream in(f, std::ios::binary);
    if (!in) fail("{}: cannot open: {}", f, std::strerror(errno));
    std::ostringstream ss;
    ss << in.rdbuf();
    const auto ids = tok.encode(ss.str(), /*add_special=*/false);
    all.insert(all.end(), ids.begin(), ids.end());
    d.sources.push_back(f);
  }
  d.n_text_tokens = all.size();
  const size_t body = static_cast<size_t>(o.seq_len) - 1;   // tokens after BOS
  if (all.size() < body) fail("calibration text has {} tokens, fewer than one sequence of {}", all.size(), o.seq_len);
  std::mt19937_64 rng(o.seed);
  const size_t windows = all.size() - body + 1;
  for (int s = 0; s < o.n_seq; ++s) {
    size_t start;
    if (o.sequential) {
      start = static_cast<size_t>(s) * body;
      if (start + body > all.size()) break;   // ran out of text: fewer sequences
    } else {
      start = std::uniform_int_distribution<size_t>(0, windows - 1)(rng);
    }
    std::vector<int32_t> seq;
    seq.reserve(o.seq_len);
    seq.push_back(tok.bos() >= 0 ? tok.bos() : all[start]);
    seq.insert(seq.end(), all.begin() + start, all.begin() + start + body);
    d.seqs.push_back(std::move(seq));
  }
  return d;
}

}  // namespace lowbit
