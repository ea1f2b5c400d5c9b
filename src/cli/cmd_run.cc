// lowbit run MODEL -p PROMPT -n N: generate text and report tokens per second.
#include <chrono>
#include <cstdio>

#include "cli/commands.h"
#include "cli/common.h"
#include "core/error.h"
#include "model/llama.h"
#include "model/sampler.h"
#include "model/tokenizer.h"

namespace lowbit::cli {

int cmd_run(int argc, char** argv) {
  CLI::App app{"Generate text from a prompt. Greedy by default (--temp 0); with --temp > 0, top-k then top-p\n"
               "sampling from a seeded generator. Prints the text, then prompt and generation speed.",
               "run"};
  std::string path, prompt = "Once upon a time", tokenizer;
  int n_predict = 128, n_ctx = 0, threads = 0;
  SamplerOptions so;
  bool json = false, no_eos = false;
  app.add_option("MODEL", path, "model file or Hugging Face directory")->required();
  app.add_option("-p,--prompt", prompt, "prompt text")->capture_default_str();
  app.add_option("-n,--n-predict", n_predict, "tokens to generate")->capture_default_str()->check(CLI::Range(0, 1 << 20));
  app.add_option("-c,--ctx", n_ctx, "context size (0 = the model's)")->check(CLI::Range(0, 1 << 20));
  app.add_option("--temp", so.temperature, "temperature (0 = greedy)")->capture_default_str()->check(CLI::Range(0.0, 100.0));
  app.add_option("--top-k", so.top_k, "keep the k most likely tokens (0 = all)")->capture_default_str()->check(CLI::Range(0, 1 << 24));
  app.add_option("--top-p", so.top_p, "nucleus: keep the smallest set with this mass")->capture_default_str()->check(CLI::Range(0.0, 1.0));
  app.add_option("--seed", so.seed, "random seed")->capture_default_str();
  app.add_option("--tokenizer", tokenizer, "llama2.c tokenizer.bin (default: found beside the model)");
  app.add_option("--threads", threads, "threads (0 = all cores)");
  app.add_flag("--ignore-eos", no_eos, "keep generating after the end-of-text token");
  app.add_flag("--json", json, "machine-readable output (text and speeds)");
  if (int rc = parse(app, argc, argv); rc >= 0) return rc;
  set_threads(threads);

  OpenOptions oo;
  oo.tokenizer = tokenizer;
  const ModelFile m = open_model(path, oo);
  if (!m.has_vocab) fail("{}: model has no tokenizer", path);
  LlamaModel model(m, n_ctx);
  Tokenizer tok(m.vocab);
  std::vector<int32_t> ids = tok.encode(prompt, true);
  if (ids.empty()) fail("the prompt encodes to no tokens");
  if (static_cast<int>(ids.size()) + n_predict > model.n_ctx())
    n_predict = std::max(0, model.n_ctx() - static_cast<int>(ids.size()));
  if (static_cast<int>(ids.size()) > model.n_ctx()) fail("prompt has {} tokens, more than the context {}", ids.size(), model.n_ctx());

  Sampler sampler(so);
  std::vector<float> logits;
  using clock = std::chrono::steady_clock;
  const auto t0 = clock::now();
  model.eval(ids, false, logits);
  const auto t1 = clock::now();
  std::string text;
  if (!json) {
    std::printf("%s", prompt.c_str());
    std::fflush(stdout);
  }
  int generated = 0;
  std::vector<int32_t> out;
  for (; generated < n_predict; ++generated) {
    const int32_t next = sampler.sample(logits.data(), m.config.vocab_size);
    if (next == tok.eos() && !no_eos) break;
    out.push_back(next);
    const std::string piece = tok.token_to_piece(next);
    text += piece;
    if (!json) {
      std::fputs(piece.c_str(), stdout);
      std::fflush(stdout);
    }
    if (generated + 1 < n_predict) {
      const int32_t one[1] = {next};
      model.eval(one, false, logits);
    }
  }
  const auto t2 = clock::now();
  const double pp_s = std::chrono::duration<double>(t1 - t0).count();
  const double tg_s = std::chrono::duration<double>(t2 - t1).count();
  const double pp_tps = pp_s > 0 ? ids.size() / pp_s : 0, tg_tps = tg_s > 0 && generated ? generated / tg_s : 0;
  if (json) {
    print_json({{"prompt", prompt}, {"text", text}, {"prompt_tokens", ids.size()}, {"generated_tokens", generated},
                {"tokens", out}, {"prompt_tokens_per_second", pp_tps}, {"generation_tokens_per_second", tg_tps}});
  } else {
    std::printf("\n");
    std::fprintf(stderr, "\nprompt: %zu tokens, %.1f tokens/s | generation: %d tokens, %.1f tokens/s\n", ids.size(),
                 pp_tps, generated, tg_tps);
  }
  return 0;
}

}  // namespace lowbit::cli
