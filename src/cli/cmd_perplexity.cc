// lowbit perplexity MODEL -f TEXT [-c CTX] [--save-logits F | --kl-base F]
#include <cstdio>

#include "cli/commands.h"
#include "cli/common.h"
#include "core/error.h"
#include "eval/perplexity.h"

namespace lowbit::cli {

int cmd_perplexity(int argc, char** argv) {
  CLI::App app{"Perplexity over a text file, computed as llama-perplexity does (chunks of CTX tokens, each\n"
               "starting with BOS, the second half of each chunk scored). --save-logits keeps this model's\n"
               "log-probabilities; --kl-base compares against a saved file (KL divergence, same-top-token %).",
               "perplexity"};
  std::string path, text_path, tokenizer;
  PerplexityOptions po;
  int threads = 0;
  bool json = false;
  app.add_option("MODEL", path, "model file or Hugging Face directory")->required();
  app.add_option("-f,--file", text_path, "text file")->required();
  app.add_option("-c,--ctx", po.n_ctx, "tokens per chunk")->capture_default_str()->check(CLI::Range(4, 1 << 20));
  app.add_option("--chunks", po.max_chunks, "evaluate at most this many chunks (0 = all)")->check(CLI::Range(0, 1 << 30));
  auto* save = app.add_option("--save-logits", po.save_logits, "write this model's log-probs (base for KL runs)");
  app.add_option("--kl-base", po.kl_base, "compare against base log-probs saved earlier")->excludes(save);
  app.add_option("--tokenizer", tokenizer, "llama2.c tokenizer.bin (default: found beside the model)");
  app.add_option("--threads", threads, "threads (0 = all cores)");
  app.add_flag("--json", json, "machine-readable output");
  if (int rc = parse(app, argc, argv); rc >= 0) return rc;
  set_threads(threads);

  OpenOptions oo;
  oo.tokenizer = tokenizer;
  const ModelFile m = open_model(path, oo);
  if (!m.has_vocab) fail("{}: model has no tokenizer", path);
  const std::string text = read_text_file(text_path);
  LlamaModel model(m, std::max(po.n_ctx, 1));
  Tokenizer tok(m.vocab);
  po.progress = !json;
  const PerplexityResult r = perplexity(model, tok, text, po);

  if (json) {
    nlohmann::json j{{"model", m.path}, {"text", text_path}, {"n_ctx", r.n_ctx}, {"n_chunks", r.n_chunks},
                     {"n_tokens", r.n_tokens_text}, {"n_scored", r.n_scored}, {"ppl", r.ppl}, {"ppl_err", r.ppl_err},
                     {"mean_nll", r.mean_nll}, {"seconds", r.seconds}, {"tokens_per_second", r.tokens_per_second}};
    if (r.kl)
      j["kl"] = {{"mean", r.kl->mean}, {"mean_err", r.kl->mean_err}, {"median", r.kl->median}, {"p99", r.kl->p99},
                 {"max", r.kl->max}, {"same_top_pct", r.kl->same_top_pct}, {"base_ppl", r.kl->base_ppl}, {"n", r.kl->n}};
    print_json(j);
    return 0;
  }
  std::printf("%s on %s: %zu tokens, %d chunks of %d, %zu scored\n", m.path.c_str(), text_path.c_str(), r.n_tokens_text,
              r.n_chunks, r.n_ctx, r.n_scored);
  std::printf("PPL = %.4f +/- %.5f   (%.1f s, %.0f tokens/s)\n", r.ppl, r.ppl_err, r.seconds, r.tokens_per_second);
  if (r.kl)
    std::printf("KL divergence vs base: mean %.6f +/- %.6f, median %.6f, p99 %.6f, max %.6f; same top token %.3f%%; "
                "base PPL %.4f\n",
                r.kl->mean, r.kl->mean_err, r.kl->median, r.kl->p99, r.kl->max, r.kl->same_top_pct, r.kl->base_ppl);
  if (!po.save_logits.empty()) std::printf("saved log-probs to %s\n", po.save_logits.c_str());
  return 0;
}

}  // namespace lowbit::cli
