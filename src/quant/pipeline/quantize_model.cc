#include "quant/pipeline/quantize_model.h"

#include <chrono>
#include <cstring>

#include "core/error.h"
#include "core/progress.h"
#include "model/gguf_model.h"
#include "model/weights.h"
#include "quant/codecs/codec.h"
#include "quant/pipeline/mix.h"

namespace lowbit {

void permute_rope_rows(const uint8_t* src, uint8_t* dst, int n_heads, int head_dim, size_t row_bytes) {
  const int half = head_dim / 2;
  for (int h = 0; h < n_heads; ++h)
    for (int i = 0; i < half; ++i)
      for (int j = 0; j < 2; ++j) {
        const size_t to = static_cast<size_t>(h) * head_dim + 2 * i + j;
        const size_t from = static_cast<size_t>(h) * head_dim + static_cast<size_t>(j) * half + i;
        std::memcpy(dst + to * row_bytes, src + from * row_bytes, row_bytes);
      }
}

std::unique_ptr<float[]> tensor_f32_gguf_layout(const ModelFile& m, const TensorRef& t) {
  auto x = tensor_dequantize(t, m.path);
  const ModelConfig& c = m.config;
  const bool permute = c.rope_layout == RopeLayout::HalfSplit && c.arch == "llama";
  const TensorName tn = parse_tensor_name(t.name);
  if (permute && (tn.role == TensorRole::AttnQ || tn.role == TensorRole::AttnK) && t.ne.size() == 2) {
    auto p = std::make_unique<float[]>(t.n_elements());
    permute_rope_rows(reinterpret_cast<const uint8_t*>(x.get()), reinterpret_cast<uint8_t*>(p.get()),
                      tn.role == TensorRole::AttnQ ? c.n_heads : c.n_kv_heads, c.head_dim, t.ne[0] * sizeof(float));
    return p;
  }
  return x;
}

QuantizeReport quantize_model(const ModelFile& in, const std::string& out_path, const QuantizeOptions& opts) {
  const MixPreset* mix = find_mix(opts.mix);
  if (!mix) {
    std::string names;
    for (const auto& m : mix_presets()) names += std::string(names.empty() ? "" : ", ") + m.name;
    fail("unknown type '{}' (one of: {})", opts.mix, names);
  }
  if (!in.has_vocab) fail("{}: model has no tokenizer; llama.cpp needs one in the GGUF", in.path);
  std::vector<TypeOverride> overrides;
  for (const auto& s : opts.overrides) overrides.push_back(parse_override(s));
  const auto t0 = std::chrono::steady_clock::now();

  QuantizeReport rep;
  rep.mix = mix->name;
  ModelConfig cfg = in.config;
  // Decide every type first, so a bad override fails before any work.
  for (const TensorRef& t : in.tensors) {
    const TypeChoice ch = choose_tensor_type(*mix, t.name, t.ne, cfg, /*has_imatrix=*/false, opts.pure, overrides);
    TensorReport tr{t.name, ch.type, t.ne, t.n_elements(), 0, ch.reason};
    ggml_tensor_bytes(ch.type, t.ne.data(), static_cast<int>(t.ne.size()), &tr.bytes);
    if (ch.type != GgmlType::F32 && !codec_for(ch.type)) fail("type {} cannot be written by lowbit", ggml_type_name(ch.type));
    rep.tensors.push_back(tr);
  }
  for (const auto& o : overrides)
    if (!o.matched) fail("--tensor-type {}={}: the pattern matches no tensor of {}", o.pattern, ggml_type_name(o.type), in.path);

  GgufFile g;
  if (in.format == ModelFormat::Gguf) g.kv = in.kv;
  cfg.rope_layout = cfg.arch == "qwen2" ? RopeLayout::HalfSplit : RopeLayout::Interleaved;
  config_to_gguf(cfg, g);
  vocab_to_gguf(in.vocab, g);
  g.set("general.file_type", GgufValue::make_u32(mix->file_type));
  g.set("general.quantization_version", GgufValue::make_u32(2));
  g.erase("general.alignment");

  std::vector<std::vector<uint8_t>> buffers(in.tensors.size());
  Progress bar("quantize", in.tensors.size(), opts.progress);
  for (size_t i = 0; i < in.tensors.size(); ++i) {
    const TensorRef& t = in.tensors[i];
    TensorReport& tr = rep.tensors[i];
    auto x = tensor_f32_gguf_layout(in, t);
    buffers[i].resize(tr.bytes);
    const int64_t row = t.ne[0], rows = static_cast<int64_t>(t.n_elements() / std::max<int64_t>(row, 1));
    if (tr.type == GgmlType::F32) std::memcpy(buffers[i].data(), x.get(), tr.bytes);
    else quantize_tensor(tr.type, x.get(), buffers[i].data(), rows, row, nullptr);
    GgufTensorInfo ti;
    ti.name = t.name;
    ti.type = tr.type;
    ti.ne = t.ne;
    ti.nbytes = tr.bytes;
    ti.data = buffers[i].data();
    g.tensors.push_back(std::move(ti));
    rep.n_params += tr.n_params;
    rep.bytes += tr.bytes;
    bar.add();
  }
  bar.finish();
  gguf_write(out_path, g);
  rep.bits_per_weight = rep.n_params ? 8.0 * rep.bytes / rep.n_params : 0;
  rep.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  return rep;
}

}  // namespace lowbit
