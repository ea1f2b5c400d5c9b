#include "quant/pipeline/synth.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <memory>

#include "core/error.h"
#include "core/progress.h"
#include "model/gguf_model.h"
#include "quant/codecs/codec.h"
#include "quant/pipeline/mix.h"

namespace lowbit {
namespace {

constexpr float kWeightSd = 0.02f;   // the usual LLaMA init scale

// splitmix64 (Steele, Lea & Flood 2014): a full-period 64-bit generator whose output
// function also serves to hash (seed, tensor, row) into independent row seeds.
uint64_t splitmix64(uint64_t& s) {
  uint64_t z = (s += 0x9E3779B97F4A7C15ull);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

// Fills one row: each element is the sum of the four 16-bit lanes of one 64-bit draw
// (Irwin-Hall with n = 4: mean 2 * 65535, variance 4 * (65536^2 - 1) / 12), centred and
// scaled to sd kWeightSd: bounded at +-3.46 sd, otherwise close enough to a normal for
// speed work, and with no transcendental functions per element (unlike Box-Muller).
void fill_row(float* x, int64_t n, uint64_t seed, uint64_t tensor, uint64_t row) {
  uint64_t s = seed;
  s = splitmix64(s) ^ (tensor * 0xD1B54A32D192ED03ull);
  s = splitmix64(s) ^ (row * 0x8CB92BA72F3D8DD7ull);
  const double sd16 = std::sqrt(4.0 * (65536.0 * 65536.0 - 1.0) / 12.0);
  const float scale = static_cast<float>(kWeightSd / sd16);
  for (int64_t i = 0; i < n; ++i) {
    const uint64_t r = splitmix64(s);
    const int64_t sum = static_cast<int64_t>(r & 0xFFFF) + ((r >> 16) & 0xFFFF) + ((r >> 32) & 0xFFFF) + (r >> 48);
    x[i] = static_cast<float>(sum - 2 * 65535) * scale;
  }
}

struct TensorSpec {
  std::string name;
  std::vector<int64_t> ne;
  bool norm;   // filled with 1
};

// llama.cpp's converter order: embeddings, the blocks, then the final norm and output.
std::vector<TensorSpec> synth_tensors(const ModelConfig& c) {
  std::vector<TensorSpec> v;
  v.push_back({"token_embd.weight", {c.dim, c.vocab_size}, false});
  for (int l = 0; l < c.n_layers; ++l) {
    const std::string p = "blk." + std::to_string(l) + ".";
    v.push_back({p + "attn_norm.weight", {c.dim}, true});
    v.push_back({p + "attn_q.weight", {c.dim, c.q_dim()}, false});
    v.push_back({p + "attn_k.weight", {c.dim, c.kv_dim()}, false});
    v.push_back({p + "attn_v.weight", {c.dim, c.kv_dim()}, false});
    v.push_back({p + "attn_output.weight", {c.q_dim(), c.dim}, false});
    v.push_back({p + "ffn_norm.weight", {c.dim}, true});
    v.push_back({p + "ffn_gate.weight", {c.dim, c.ffn_dim}, false});
    v.push_back({p + "ffn_up.weight", {c.dim, c.ffn_dim}, false});
    v.push_back({p + "ffn_down.weight", {c.ffn_dim, c.dim}, false});
  }
  v.push_back({"output_norm.weight", {c.dim}, true});
  v.push_back({"output.weight", {c.dim, c.vocab_size}, false});
  return v;
}

}  // namespace

const std::vector<SynthPreset>& synth_presets() {
  static const std::vector<SynthPreset> k = {
      //  name               dim   ffn    layers heads kv  vocab  ctx
      {"tiny", 256, 512, 2, 4, 2, 512, 512, "test-sized: 2 layers, dim 256, vocab 512"},
      {"tinyllama-1.1b", 2048, 5632, 22, 32, 4, 32000, 2048, "TinyLlama 1.1B (GQA 32/4 heads)"},
      {"llama-7b-1layer", 4096, 11008, 1, 32, 32, 32000, 4096, "one layer of LLaMA-7B, with its embeddings and output"},
      {"llama-7b-2layer", 4096, 11008, 2, 32, 32, 32000, 4096, "two layers of LLaMA-7B, with its embeddings and output"},
      {"small-8layer", 512, 1536, 8, 8, 4, 2048, 2048, "8 layers of width 512 (memory tests)"},
      {"small-32layer", 512, 1536, 32, 8, 4, 2048, 2048, "32 layers of width 512 (memory tests)"},
  };
  return k;
}

const SynthPreset* find_synth_preset(const std::string& name) {
  for (const auto& p : synth_presets())
    if (name == p.name) return &p;
  return nullptr;
}

ModelConfig synth_config(const SynthPreset& p) {
  ModelConfig c;
  c.arch = "llama";
  c.name = std::string("synth-") + p.name;
  c.dim = p.dim;
  c.ffn_dim = p.ffn_dim;
  c.n_layers = p.n_layers;
  c.n_heads = p.n_heads;
  c.n_kv_heads = p.n_kv_heads;
  c.head_dim = p.dim / p.n_heads;
  c.vocab_size = p.vocab_size;
  c.max_seq = p.max_seq;
  c.validate(c.name);
  return c;
}

Vocab synth_vocab(int vocab_size) {
  constexpr int kFixed = 3 + 256;
  if (vocab_size <= kFixed) fail("synthetic vocabulary needs more than {} tokens, got {}", kFixed, vocab_size);
  Vocab v;
  v.kind = VocabKind::Spm;
  v.tokens.reserve(vocab_size);
  auto add = [&](std::string piece, float score, int32_t type) {
    v.tokens.push_back(std::move(piece));
    v.scores.push_back(score);
    v.types.push_back(type);
  };
  add("<unk>", 0.0f, kTokUnknown);
  add("<s>", 0.0f, kTokControl);
  add("</s>", 0.0f, kTokControl);
  for (int b = 0; b < 256; ++b) add(fmt::format("<0x{:02X}>", b), 0.0f, kTokByte);
  // "▁" and printable ASCII first, so ordinary text tokenizes into pieces (and detokenizes
  // back, which node-llama-cpp checks at load), then filler up to the size.
  const std::string space = "\xE2\x96\x81";   // U+2581, SentencePiece's space
  std::vector<std::string> pieces = {space};
  for (char ch = '!'; ch <= '~'; ++ch) pieces.emplace_back(1, ch);
  for (size_t i = 0; v.tokens.size() < static_cast<size_t>(vocab_size); ++i) {
    const std::string piece = i < pieces.size() ? pieces[i] : fmt::format("{}w{}", space, i - pieces.size());
    add(piece, -static_cast<float>(i), kTokNormal);
  }
  v.unk = 0;
  v.bos = 1;
  v.eos = 2;
  v.add_bos = true;
  v.add_space_prefix = true;
  return v;
}

QuantizeReport synthesize_model(const std::string& out_path, const SynthOptions& opts) {
  const SynthPreset* preset = find_synth_preset(opts.preset);
  if (!preset) {
    std::string names;
    for (const auto& p : synth_presets()) names += std::string(names.empty() ? "" : ", ") + p.name;
    fail("unknown preset '{}' (one of: {})", opts.preset, names);
  }
  const MixPreset* mix = find_mix(opts.mix);
  if (!mix) {
    std::string names;
    for (const auto& m : mix_presets()) names += std::string(names.empty() ? "" : ", ") + m.name;
    fail("unknown type '{}' (one of: {})", opts.mix, names);
  }
  const auto t0 = std::chrono::steady_clock::now();
  const ModelConfig cfg = synth_config(*preset);
  const std::vector<TensorSpec> specs = synth_tensors(cfg);

  QuantizeReport rep;
  rep.mix = mix->name;
  rep.method = "synth";
  std::vector<TypeOverride> no_overrides;
  uint64_t max_elems = 0;
  for (const TensorSpec& s : specs) {
    const TypeChoice ch = choose_tensor_type(*mix, s.name, s.ne, cfg, /*has_imatrix=*/false, /*pure=*/false, no_overrides);
    if (!codec_for(ch.type)) fail("type {} cannot be written by lowbit", ggml_type_name(ch.type));
    TensorReport tr{s.name, ch.type, s.ne, 1, 0, ch.reason};
    for (int64_t d : s.ne) tr.n_params *= static_cast<uint64_t>(d);
    if (!ggml_tensor_bytes(ch.type, s.ne.data(), static_cast<int>(s.ne.size()), &tr.bytes))
      fail("tensor '{}': {} does not fit the shape", s.name, ggml_type_name(ch.type));
    max_elems = std::max(max_elems, tr.n_params);
    rep.n_params += tr.n_params;
    rep.tensors.push_back(tr);
  }

  GgufFile g;
  config_to_gguf(cfg, g);
  vocab_to_gguf(synth_vocab(cfg.vocab_size), g);
  g.set("general.file_type", GgufValue::make_u32(mix->file_type));
  g.set("general.quantization_version", GgufValue::make_u32(2));
  for (const TensorReport& tr : rep.tensors) {
    GgufTensorInfo ti;
    ti.name = tr.name;
    ti.type = tr.type;
    ti.ne = tr.ne;
    ti.nbytes = tr.bytes;
    g.tensors.push_back(std::move(ti));
  }

  // One fp32 tensor and one quantized tensor at a time, streamed to the file.
  GgufStreamWriter out(out_path, g);
  auto x = std::make_unique<float[]>(max_elems);
  std::vector<uint8_t> q;
  Progress bar("synth", rep.n_params, opts.progress);   // counts parameters
  for (size_t i = 0; i < specs.size(); ++i) {
    const TensorSpec& s = specs[i];
    const TensorReport& tr = rep.tensors[i];
    const int64_t row = s.ne[0], rows = static_cast<int64_t>(tr.n_params / static_cast<uint64_t>(row));
    if (s.norm) {
      std::fill_n(x.get(), tr.n_params, 1.0f);
    } else {
#pragma omp parallel for schedule(static)
      for (int64_t r = 0; r < rows; ++r) fill_row(x.get() + r * row, row, opts.seed, i, static_cast<uint64_t>(r));
    }
    q.resize(tr.bytes);
    quantize_tensor(tr.type, x.get(), q.data(), rows, row, nullptr);
    out.write_tensor(i, q.data(), tr.bytes);
    rep.bytes += tr.bytes;
    bar.add(tr.n_params);
  }
  bar.finish();
  out.commit();
  rep.peak_rss_bytes = peak_rss_bytes();
  rep.bits_per_weight = rep.n_params ? 8.0 * rep.bytes / rep.n_params : 0;
  rep.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  return rep;
}

}  // namespace lowbit
