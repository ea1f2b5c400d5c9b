// lowbit calibrate MODEL -f TEXT... -o STATS
#include <chrono>
#include <cstdio>

#include "calib/calibrate.h"
#include "cli/commands.h"
#include "cli/common.h"
#include "core/error.h"

namespace lowbit::cli {

int cmd_calibrate(int argc, char** argv) {
  CLI::App app{"Run calibration text through a model and save per-layer input statistics: the importance\n"
               "matrix (llama.cpp's imatrix: GGUF, or legacy .dat when STATS ends in .dat), per-channel\n"
               "absolute maxima, and activation ranges from five observers (min-max, moving-average\n"
               "min-max, percentile, MSE-optimal, entropy/KL).",
               "calibrate"};
  std::string path, out, tokenizer;
  std::vector<std::string> files;
  CalibDataOptions co;
  int threads = 0;
  bool json = false;
  app.add_option("MODEL", path, "model file or Hugging Face directory")->required();
  app.add_option("-f,--file", files, "calibration text file(s)")->required();
  app.add_option("-o,--output", out, "statistics file (.gguf imatrix, or .dat)")->required();
  app.add_option("--n-seq", co.n_seq, "sequences")->capture_default_str()->check(CLI::Range(1, 1 << 20));
  app.add_option("--seq-len", co.seq_len, "tokens per sequence (BOS first)")->capture_default_str()->check(CLI::Range(2, 1 << 20));
  app.add_option("--seed", co.seed, "seed for the random windows")->capture_default_str();
  app.add_flag("--sequential", co.sequential, "consecutive windows instead of random ones");
  app.add_option("--tokenizer", tokenizer, "llama2.c tokenizer.bin (default: found beside the model)");
  app.add_option("--threads", threads, "threads (0 = all cores)");
  app.add_flag("--json", json, "machine-readable summary");
  if (int rc = parse(app, argc, argv); rc >= 0) return rc;
  set_threads(threads);

  OpenOptions oo;
  oo.tokenizer = tokenizer;
  const ModelFile m = open_model(path, oo);
  if (!m.has_vocab) fail("{}: model has no tokenizer", path);
  if (co.seq_len > m.config.max_seq)
    fail("--seq-len {} exceeds the model's context {}", co.seq_len, m.config.max_seq);
  Tokenizer tok(m.vocab);
  const CalibData data = load_calibration(tok, files, co);
  LlamaModel model(m, co.seq_len);
  CalibStats stats;
  const auto t0 = std::chrono::steady_clock::now();
  run_calibration(model, data, stats, !json);
  save_calibration(out, stats, data, co.seq_len);
  const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  if (json) {
    print_json({{"model", m.path}, {"output", out}, {"n_seq", data.seqs.size()}, {"seq_len", co.seq_len},
                {"tokens", data.seqs.size() * co.seq_len}, {"entries", stats.imatrix.entries.size()}, {"seconds", secs}});
  } else {
    std::printf("%s: %zu sequences x %d tokens from %zu text tokens; %zu weight entries -> %s (%.2f s)\n",
                m.path.c_str(), data.seqs.size(), co.seq_len, data.n_text_tokens, stats.imatrix.entries.size(),
                out.c_str(), secs);
  }
  return 0;
}

}  // namespace lowbit::cli
