#include "quant/pipeline/quantize_model.h"

#include <chrono>
#include <cstdio>
#include <cstring>
#include <fstream>

#include "calib/imatrix_io.h"
#include "core/error.h"
#include "core/progress.h"
#include "model/gguf_model.h"
#include "model/weights.h"
#include "quant/codecs/codec.h"
#include "quant/pipeline/plan.h"
#include "quant/pipeline/w8a8_output.h"

namespace lowbit {

const char* quant_method_name(QuantMethod m) {
  switch (m) {
    case QuantMethod::Rtn: return "rtn";
    case QuantMethod::Imatrix: return "imatrix";
    case QuantMethod::Gptq: return "gptq";
    case QuantMethod::Awq: return "awq";
    case QuantMethod::SmoothQuant: return "smoothquant";
    case QuantMethod::AwqGptq: return "awq+gptq";
  }
  return "?";
}

bool quant_method_from_name(const std::string& s, QuantMethod* out) {
  for (QuantMethod m : {QuantMethod::Rtn, QuantMethod::Imatrix, QuantMethod::Gptq, QuantMethod::Awq, QuantMethod::SmoothQuant,
                        QuantMethod::AwqGptq})
    if (s == quant_method_name(m)) {
      *out = m;
      return true;
    }
  return false;
}

uint64_t peak_rss_bytes() {
  std::ifstream in("/proc/self/status");
  std::string line;
  while (std::getline(in, line))
    if (line.rfind("VmHWM:", 0) == 0) return std::stoull(line.substr(6)) * 1024;
  return 0;
}

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

int QuantPlan::index_of(const std::string& name) const {
  for (size_t i = 0; i < tensors.size(); ++i)
    if (tensors[i].src->name == name) return static_cast<int>(i);
  return -1;
}

QuantPlan make_plan(const ModelFile& in, const QuantizeOptions& opts, bool has_imatrix) {
  QuantPlan plan;
  plan.mix = find_mix(opts.mix);
  if (!plan.mix) {
    std::string names;
    for (const auto& m : mix_presets()) names += std::string(names.empty() ? "" : ", ") + m.name;
    fail("unknown type '{}' (one of: {})", opts.mix, names);
  }
  if (!in.has_vocab) fail("{}: model has no tokenizer; llama.cpp needs one in the GGUF", in.path);
  std::vector<TypeOverride> overrides;
  for (const auto& s : opts.overrides) overrides.push_back(parse_override(s));

  const std::vector<const TensorRef*> order = tensors_in_file_order(in);

  ModelConfig cfg = in.config;
  for (const TensorRef* t : order) {
    const TypeChoice ch = choose_tensor_type(*plan.mix, t->name, t->ne, cfg, has_imatrix, opts.pure, overrides);
    const TensorName tn = parse_tensor_name(t->name);
    PlannedTensor p{t, ch.type, 0, tn.layer, tn.role, ch.reason};
    ggml_tensor_bytes(ch.type, t->ne.data(), static_cast<int>(t->ne.size()), &p.bytes);
    if (ch.type != GgmlType::F32 && !codec_for(ch.type)) fail("type {} cannot be written by lowbit", ggml_type_name(ch.type));
    plan.tensors.push_back(p);
  }
  for (const auto& o : overrides)
    if (!o.matched) fail("--tensor-type {}={}: the pattern matches no tensor of {}", o.pattern, ggml_type_name(o.type), in.path);

  GgufFile& g = plan.header;
  if (in.format == ModelFormat::Gguf) g.kv = in.kv;
  cfg.rope_layout = cfg.arch == "qwen2" ? RopeLayout::HalfSplit : RopeLayout::Interleaved;
  config_to_gguf(cfg, g);
  vocab_to_gguf(in.vocab, g);
  g.set("general.file_type", GgufValue::make_u32(plan.mix->file_type));
  g.set("general.quantization_version", GgufValue::make_u32(2));
  g.erase("general.alignment");
  for (const auto& p : plan.tensors) {
    GgufTensorInfo ti;
    ti.name = p.src->name;
    ti.type = p.type;
    ti.ne = p.src->ne;
    ti.nbytes = p.bytes;
    g.tensors.push_back(std::move(ti));
  }
  w8a8_extend_plan(plan, opts);   // --w8a8: block linears to I8 + companion tensors (w8a8_output.h)
  return plan;
}

std::vector<uint8_t> encode_tensor(const PlannedTensor& t, const float* x, const std::vector<float>& importance) {
  std::vector<uint8_t> out(t.bytes);
  const int64_t row = t.src->ne[0], rows = static_cast<int64_t>(t.src->n_elements() / std::max<int64_t>(row, 1));
  if (t.type == GgmlType::F32) std::memcpy(out.data(), x, t.bytes);
  else quantize_tensor(t.type, x, out.data(), rows, row, importance.empty() ? nullptr : importance.data());
  return out;
}

QuantizeReport quantize_model(const ModelFile& in, const std::string& out_path, const QuantizeOptions& opts) {
  const auto t0 = std::chrono::steady_clock::now();
  const bool calibrated = opts.method != QuantMethod::Rtn && !(opts.method == QuantMethod::Imatrix && !opts.imatrix_file.empty());
  if (opts.w8a8 != W8A8Mode::None && opts.method != QuantMethod::SmoothQuant)
    fail("--w8a8 needs --method smoothquant (it is {})", quant_method_name(opts.method));
  if (calibrated && opts.calib_files.empty())
    fail("method {} needs calibration text (--calib FILE)", quant_method_name(opts.method));
  if (opts.method == QuantMethod::Imatrix && opts.imatrix_file.empty() && opts.calib_files.empty())
    fail("method imatrix needs --imatrix FILE or calibration text (--calib FILE)");
  Imatrix imatrix;
  if (!opts.imatrix_file.empty()) imatrix = imatrix_read(opts.imatrix_file);
  const QuantPlan plan = make_plan(in, opts, opts.method != QuantMethod::Rtn);

  QuantizeReport rep;
  rep.mix = plan.mix->name;
  rep.method = quant_method_name(opts.method);
  for (const auto& p : plan.tensors) {
    rep.tensors.push_back({p.src->name, p.type, p.src->ne, p.src->n_elements(), p.bytes, p.reason});
    rep.n_params += p.src->n_elements();
    rep.bytes += p.bytes;
  }
  for (size_t i = 0; i < plan.w8a8.size(); ++i) {   // W8A8 companions: stored bytes, no parameters
    const GgufTensorInfo& ti = plan.header.tensors[plan.tensors.size() + i];
    rep.tensors.push_back({ti.name, ti.type, ti.ne, 0, ti.nbytes, plan.w8a8[i].range ? "static input range" : "row scales"});
    rep.bytes += ti.nbytes;
  }

  GgufStreamWriter out(out_path, plan.header);
  if (calibrated) {
    quantize_layerwise(in, plan, opts, out, rep);
  } else {
    Progress bar("quantize", plan.tensors.size(), opts.progress);
    for (size_t i = 0; i < plan.tensors.size(); ++i) {
      const PlannedTensor& p = plan.tensors[i];
      auto x = tensor_f32_gguf_layout(in, *p.src);
      std::vector<float> imp;
      if (p.type != GgmlType::F32 && p.src->ne.size() == 2) imp = imatrix.importance(p.src->name);
      if (!imp.empty() && static_cast<int64_t>(imp.size()) != p.src->ne[0])
        fail("{}: imatrix entry for '{}' has {} columns, the tensor {}", opts.imatrix_file, p.src->name, imp.size(), p.src->ne[0]);
      const auto bytes = encode_tensor(p, x.get(), imp);
      out.write_tensor(i, bytes.data(), bytes.size());
      bar.add();
    }
    bar.finish();
  }
  out.commit();
  rep.bits_per_weight = rep.n_params ? 8.0 * rep.bytes / rep.n_params : 0;
  rep.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  rep.peak_rss_bytes = peak_rss_bytes();
  return rep;
}

}  // namespace lowbit
