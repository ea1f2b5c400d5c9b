// lowbit synth --preset NAME --type MIX -o OUT.gguf: a LLaMA-shaped model with random weights.
#include <cstdio>

#include "cli/commands.h"
#include "cli/common.h"
#include "core/error.h"
#include "quant/pipeline/mix.h"
#include "quant/pipeline/synth.h"

namespace lowbit::cli {

int cmd_synth(int argc, char** argv) {
  std::string presets, types;
  for (const auto& p : synth_presets())
    presets += fmt::format("  {:<16} dim {:>4}, ffn {:>5}, {:>2} layers, {:>2}/{:<2} heads, vocab {:>5}: {}\n", p.name,
                           p.dim, p.ffn_dim, p.n_layers, p.n_heads, p.n_kv_heads, p.vocab_size, p.summary);
  for (const auto& m : mix_presets()) types += std::string(types.empty() ? "" : ", ") + m.name;
  CLI::App app{"Write a LLaMA-shaped model with random weights (normal(0, 0.02)-ish matrices, norms 1) and a\n"
               "synthetic SentencePiece vocabulary as GGUF, quantized with a named mix, for speed and memory\n"
               "work (bench, llama.cpp comparisons). Each tensor is generated and quantized on its own, so\n"
               "memory stays at one fp32 tensor plus the output. Same preset, type and seed: same file.\n\n"
               "Presets:\n" + presets + "\nTypes: " + types + "\n",
               "synth"};
  SynthOptions so;
  std::string out;
  bool json = false;
  int threads = 0;
  app.add_option("--preset", so.preset, "model shape (see Presets)")->required();
  app.add_option("--type,-t", so.mix, "mix (see Types)")->capture_default_str();
  app.add_option("-o,--output", out, "output .gguf path")->required();
  app.add_option("--seed", so.seed, "random seed")->capture_default_str();
  app.add_option("--threads", threads, "threads (0 = all cores)");
  app.add_flag("--json", json, "machine-readable report");
  if (int rc = parse(app, argc, argv); rc >= 0) return rc;
  set_threads(threads);
  so.progress = !json;

  const QuantizeReport r = synthesize_model(out, so);
  if (json) {
    nlohmann::json j{{"preset", so.preset}, {"output", out}, {"mix", r.mix}, {"seed", so.seed},
                     {"n_params", r.n_params}, {"bytes", r.bytes}, {"bits_per_weight", r.bits_per_weight},
                     {"seconds", r.seconds}, {"peak_rss_bytes", r.peak_rss_bytes}};
    j["tensors"] = nlohmann::json::array();
    for (const auto& t : r.tensors)
      j["tensors"].push_back({{"name", t.name}, {"type", ggml_type_name(t.type)}, {"shape", t.ne},
                              {"bytes", t.bytes}, {"note", t.reason}});
    print_json(j);
    return 0;
  }
  std::printf("%s (%s, seed %llu) -> %s: %llu params, %s, %.3f bits per weight, %.2f s, peak memory %s\n",
              so.preset.c_str(), r.mix.c_str(), static_cast<unsigned long long>(so.seed), out.c_str(),
              static_cast<unsigned long long>(r.n_params), human_bytes(static_cast<double>(r.bytes)).c_str(),
              r.bits_per_weight, r.seconds, human_bytes(static_cast<double>(r.peak_rss_bytes)).c_str());
  return 0;
}

}  // namespace lowbit::cli
