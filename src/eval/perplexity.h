// Perplexity the way llama-perplexity computes it: the text is tokenized once (with BOS),
// cut into chunks of n_ctx tokens, each chunk's first token replaced by BOS, and only the
// second half of each chunk scored (every scored token sees at least n_ctx/2 of context).
// PPL = exp(mean NLL); the ± is PPL * sqrt(var(NLL) / (N - 1)), as llama.cpp prints it.
//
// With save_logits the scored positions' log-softmax rows go to a file; with kl_base they
// are compared against such a file: KL(base || this), its mean/median/p99/max, and how
// often both models agree on the most likely token.
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "model/llama.h"
#include "model/tokenizer.h"

namespace lowbit {

struct PerplexityOptions {
  int n_ctx = 512;
  int max_chunks = 0;          // 0 = all
  std::string save_logits;     // write the base logits file here
  std::string kl_base;         // compare against this base logits file
  bool progress = true;
};

struct KlStats {
  double mean = 0, median = 0, p99 = 0, max = 0, mean_err = 0;
  double same_top_pct = 0;     // % of positions where both argmax agree
  double base_ppl = 0;         // perplexity of the base (from its saved log-probs)
  size_t n = 0;
};

struct PerplexityResult {
  double ppl = 0, ppl_err = 0, mean_nll = 0;
  int n_chunks = 0, n_ctx = 0;
  size_t n_tokens_text = 0, n_scored = 0;
  double seconds = 0, tokens_per_second = 0;   // over every token evaluated
  std::vector<double> chunk_ppl;               // running PPL after each chunk
  std::optional<KlStats> kl;
};

PerplexityResult perplexity(LlamaModel& model, const Tokenizer& tok, const std::string& text,
                            const PerplexityOptions& opts);

}  // namespace lowbit
