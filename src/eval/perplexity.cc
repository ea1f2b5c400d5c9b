#include "eval/perplexity.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <memory>

#include "core/error.h"
#include "core/progress.h"
#include "eval/logit_file.h"

namespace lowbit {
namespace {

// log_softmax of one logits row, in double for the normaliser.
void log_softmax(const float* logits, int n, float* out) {
  float mx = -INFINITY;
  for (int i = 0; i < n; ++i) mx = std::max(mx, logits[i]);
  double sum = 0;
  for (int i = 0; i < n; ++i) sum += std::exp(static_cast<double>(logits[i]) - mx);
  const double lse = mx + std::log(sum);
  for (int i = 0; i < n; ++i) out[i] = static_cast<float>(logits[i] - lse);
}

double percentile(std::vector<double>& v, double p) {
  if (v.empty()) return 0;
  const size_t k = std::min(v.size() - 1, static_cast<size_t>(p * (v.size() - 1) + 0.5));
  std::nth_element(v.begin(), v.begin() + k, v.end());
  return v[k];
}

}  // namespace

PerplexityResult perplexity(LlamaModel& model, const Tokenizer& tok, const std::string& text,
                            const PerplexityOptions& opts) {
  PerplexityResult r;
  const int n_ctx = opts.n_ctx;
  if (n_ctx < 4) fail("perplexity: context {} is too small (at least 4)", n_ctx);
  if (n_ctx > model.n_ctx()) fail("perplexity: context {} exceeds the model's context {}", n_ctx, model.n_ctx());
  const int n_vocab = model.config().vocab_size;
  const std::vector<int32_t> tokens = tok.encode(text, /*add_special=*/true);
  r.n_tokens_text = tokens.size();
  r.n_ctx = n_ctx;
  int n_chunks = static_cast<int>(tokens.size() / n_ctx);
  if (opts.max_chunks > 0) n_chunks = std::min(n_chunks, opts.max_chunks);
  if (n_chunks == 0)
    fail("perplexity: the text has {} tokens, fewer than one context of {} (use a smaller -c)", tokens.size(), n_ctx);
  r.n_chunks = n_chunks;
  const int first = n_ctx / 2;
  const int n_scored = n_ctx - 1 - first;
  const int32_t bos = tok.bos();

  std::vector<int32_t> chunk_tokens(static_cast<size_t>(n_chunks) * n_ctx);
  for (int c = 0; c < n_chunks; ++c) {
    std::copy_n(tokens.begin() + static_cast<size_t>(c) * n_ctx, n_ctx, chunk_tokens.begin() + static_cast<size_t>(c) * n_ctx);
    if (bos >= 0 && tok.vocab().add_bos) chunk_tokens[static_cast<size_t>(c) * n_ctx] = bos;
  }

  const LogitFileHeader hdr{static_cast<uint32_t>(n_vocab), static_cast<uint32_t>(n_ctx),
                            static_cast<uint32_t>(n_chunks), static_cast<uint32_t>(n_scored)};
  std::unique_ptr<LogitFileWriter> saver;
  if (!opts.save_logits.empty()) saver = std::make_unique<LogitFileWriter>(opts.save_logits, hdr, chunk_tokens);
  std::unique_ptr<LogitFileReader> base;
  if (!opts.kl_base.empty()) {
    base = std::make_unique<LogitFileReader>(opts.kl_base);
    const auto& bh = base->header();
    if (bh.n_vocab != hdr.n_vocab || bh.n_ctx != hdr.n_ctx || bh.n_chunks < hdr.n_chunks)
      fail("{}: base logits are for vocab {} / ctx {} / {} chunks; this run has vocab {} / ctx {} / {} chunks",
           opts.kl_base, bh.n_vocab, bh.n_ctx, bh.n_chunks, n_vocab, n_ctx, n_chunks);
    if (!std::equal(chunk_tokens.begin(), chunk_tokens.end(), base->tokens()))
      fail("{}: the base run tokenized the text differently (different text or tokenizer?)", opts.kl_base);
  }

  std::vector<float> logits, lp(n_vocab), blp(n_vocab);
  std::vector<double> kls;
  double nll = 0, nll2 = 0, base_nll = 0;
  size_t count = 0, same_top = 0;
  Progress bar("perplexity", n_chunks, opts.progress);
  const auto t0 = std::chrono::steady_clock::now();
  for (int c = 0; c < n_chunks; ++c) {
    model.reset();
    const int32_t* ct = chunk_tokens.data() + static_cast<size_t>(c) * n_ctx;
    model.eval({ct, static_cast<size_t>(n_ctx)}, /*all_logits=*/true, logits);
    for (int j = 0; j < n_scored; ++j) {
      const int pos = first + j;
      log_softmax(&logits[static_cast<size_t>(pos) * n_vocab], n_vocab, lp.data());
      // The target is the original text's next token (never the substituted BOS).
      const int32_t target = tokens[static_cast<size_t>(c) * n_ctx + pos + 1];
      const double v = -lp[target];
      nll += v;
      nll2 += v * v;
      ++count;
      if (saver) saver->append_row(lp.data());
      if (base) {
        base->row(static_cast<uint64_t>(c) * n_scored + j, blp.data());
        double kl = 0;
        int am = 0, bm = 0;
        for (int i = 0; i < n_vocab; ++i) {
          kl += std::exp(static_cast<double>(blp[i])) * (static_cast<double>(blp[i]) - lp[i]);
          if (lp[i] > lp[am]) am = i;
          if (blp[i] > blp[bm]) bm = i;
        }
        kls.push_back(std::max(kl, 0.0));
        same_top += am == bm;
        base_nll += -blp[target];
      }
    }
    r.chunk_ppl.push_back(std::exp(nll / count));
    bar.update(c + 1);
  }
  bar.finish();
  r.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  r.tokens_per_second = r.seconds > 0 ? static_cast<double>(n_chunks) * n_ctx / r.seconds : 0;
  r.n_scored = count;
  r.mean_nll = nll / count;
  r.ppl = std::exp(r.mean_nll);
  const double var = nll2 / count - r.mean_nll * r.mean_nll;
  r.ppl_err = (var > 0 && count > 1) ? std::sqrt(var / (count - 1)) * r.ppl : 0;
  if (saver) saver->commit();
  if (base) {
    KlStats k;
    k.n = kls.size();
    double s = 0, s2 = 0;
    for (double x : kls) {
      s += x;
      s2 += x * x;
      k.max = std::max(k.max, x);
    }
    k.mean = s / k.n;
    const double kvar = s2 / k.n - k.mean * k.mean;
    k.mean_err = (kvar > 0 && k.n > 1) ? std::sqrt(kvar / (k.n - 1)) : 0;
    k.same_top_pct = 100.0 * same_top / k.n;
    k.base_ppl = std::exp(base_nll / k.n);
    k.median = percentile(kls, 0.5);
    k.p99 = percentile(kls, 0.99);
    r.kl = k;
  }
  return r;
}

}  // namespace lowbit
