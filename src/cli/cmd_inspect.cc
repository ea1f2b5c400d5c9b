// lowbit inspect MODEL: what a model file holds.
#include <cstdio>

#include "cli/commands.h"
#include "cli/common.h"
#include "core/error.h"
#include <fmt/format.h>

#include "model/model_file.h"
#include "model/w8a8.h"

namespace lowbit::cli {

int cmd_inspect(int argc, char** argv) {
  CLI::App app{"Show a model's metadata, tensors (name, type, shape, bytes), parameter count and bits per weight.\n"
               "MODEL is a GGUF file, a llama2.c .bin, or a Hugging Face directory.",
               "inspect"};
  std::string path, tokenizer;
  bool json = false, all_kv = false;
  app.add_option("MODEL", path, "model file or directory")->required();
  app.add_option("--tokenizer", tokenizer, "llama2.c tokenizer.bin (default: found beside the model)");
  app.add_flag("--json", json, "machine-readable output");
  app.add_flag("--all", all_kv, "show every metadata value in full (arrays are abbreviated otherwise)");
  if (int rc = parse(app, argc, argv); rc >= 0) return rc;

  OpenOptions oo;
  oo.tokenizer = tokenizer;
  oo.vocab_only = true;
  const ModelFile m = open_model(path, oo);
  uint64_t params = 0, bytes = 0;
  for (const auto& t : m.tensors) {
    params += t.n_elements();
    bytes += t.nbytes;
  }
  const double bpw = params ? 8.0 * bytes / params : 0;
  // lowbit's W8A8 files (model/w8a8.h) hold per-channel int8 that llama.cpp cannot run.
  std::string lowbit_only;
  try {
    if (const W8A8Mode w = w8a8_mode_of(m); w != W8A8Mode::None)
      lowbit_only = fmt::format("W8A8: int8 weights with per-row scales, {} int8 activations", w8a8_mode_name(w));
  } catch (const Error& e) {
    lowbit_only = e.what();
  }
  for (const auto& t : m.tensors)
    if (t.type == GgmlType::I8 && lowbit_only.empty()) lowbit_only = "I8 matrices without lowbit.w8a8 metadata (not runnable)";
  const ModelConfig& c = m.config;

  if (json) {
    nlohmann::json j;
    j["path"] = m.path;
    j["format"] = model_format_name(m.format);
    j["config"] = {{"arch", c.arch},         {"dim", c.dim},           {"n_layers", c.n_layers},
                   {"n_heads", c.n_heads},   {"n_kv_heads", c.n_kv_heads}, {"head_dim", c.head_dim},
                   {"ffn_dim", c.ffn_dim},   {"vocab_size", c.vocab_size}, {"max_seq", c.max_seq},
                   {"rope_theta", c.rope_theta}, {"norm_eps", c.norm_eps},
                   {"rope_layout", c.rope_layout == RopeLayout::Interleaved ? "interleaved" : "half-split"},
                   {"tied_embeddings", c.tied_embeddings}, {"qkv_bias", c.qkv_bias}};
    if (m.has_vocab)
      j["vocab"] = {{"kind", m.vocab.kind == VocabKind::Spm ? "spm" : "bpe"}, {"size", m.vocab.size()},
                    {"bos", m.vocab.bos}, {"eos", m.vocab.eos}, {"merges", m.vocab.merges.size()}};
    j["metadata"] = nlohmann::json::object();
    for (const auto& [k, v] : m.kv) j["metadata"][k] = v.to_display(all_kv ? SIZE_MAX : 8);
    j["tensors"] = nlohmann::json::array();
    for (const auto& t : m.tensors)
      j["tensors"].push_back({{"name", t.name}, {"type", ggml_type_name(t.type)}, {"shape", t.ne}, {"bytes", t.nbytes}});
    if (!lowbit_only.empty()) j["lowbit_only"] = lowbit_only;
    j["n_params"] = params;
    j["bytes"] = bytes;
    j["bits_per_weight"] = bpw;
    print_json(j);
    return 0;
  }
  std::printf("%s  (%s)\n", m.path.c_str(), model_format_name(m.format));
  if (!m.tensors.empty())
    std::printf("  %s: dim %d, %d layers, %d heads (%d kv, head dim %d), ffn %d, vocab %d, ctx %d\n"
                "  rope theta %g (%s), rms eps %g, %s embeddings%s\n",
                c.arch.c_str(), c.dim, c.n_layers, c.n_heads, c.n_kv_heads, c.head_dim, c.ffn_dim, c.vocab_size,
                c.max_seq, c.rope_theta, c.rope_layout == RopeLayout::Interleaved ? "interleaved pairs" : "half-split",
                c.norm_eps, c.tied_embeddings ? "tied" : "untied", c.qkv_bias ? ", qkv bias" : "");
  if (m.has_vocab)
    std::printf("  tokenizer: %s, %zu tokens, bos %d, eos %d%s\n", m.vocab.kind == VocabKind::Spm ? "sentencepiece" : "byte-level BPE",
                m.vocab.size(), m.vocab.bos, m.vocab.eos,
                m.vocab.merges.empty() ? "" : fmt::format(", {} merges", m.vocab.merges.size()).c_str());
  if (!lowbit_only.empty())
    std::printf("  lowbit-only file (%s): llama.cpp cannot run it, lowbit can\n", lowbit_only.c_str());
  if (!m.kv.empty()) {
    std::printf("\nmetadata (%zu keys):\n", m.kv.size());
    for (const auto& [k, v] : m.kv) std::printf("  %-40s %s\n", k.c_str(), v.to_display(all_kv ? SIZE_MAX : 8).c_str());
  }
  std::printf("\ntensors (%zu):\n", m.tensors.size());
  for (const auto& t : m.tensors) {
    std::string shape;
    for (auto d : t.ne) shape += (shape.empty() ? "" : " x ") + std::to_string(d);
    std::printf("  %-32s %-8s [%s]  %s\n", t.name.c_str(), std::string(ggml_type_name(t.type)).c_str(), shape.c_str(),
                human_bytes(static_cast<double>(t.nbytes)).c_str());
  }
  std::printf("\nparameters: %llu (%.3f M), tensor data %s, %.3f bits per weight\n",
              static_cast<unsigned long long>(params), params / 1e6, human_bytes(static_cast<double>(bytes)).c_str(), bpw);
  return 0;
}

}  // namespace lowbit::cli
