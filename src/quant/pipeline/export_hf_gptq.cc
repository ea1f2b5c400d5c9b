#include "quant/pipeline/export_hf_gptq.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <memory>

#include "calib/dataset.h"
#include "core/atomic_dir.h"
#include "core/error.h"
#include "core/half.h"
#include "core/progress.h"
#include "formats/hf/hf_gptq.h"
#include "formats/safetensors/safetensors_writer.h"
#include "model/llama.h"
#include "model/tensor_role.h"
#include "model/tokenizer.h"
#include "model/weights.h"
#include "quant/methods/gptq.h"
#include "quant/methods/hessian.h"
#include "quant/pipeline/hf_export_files.h"

namespace lowbit {
namespace {

namespace fs = std::filesystem;

bool is_linear(TensorRole r) {
  switch (r) {
    case TensorRole::AttnQ: case TensorRole::AttnK: case TensorRole::AttnV: case TensorRole::AttnOutput:
    case TensorRole::FfnGate: case TensorRole::FfnUp: case TensorRole::FfnDown: return true;
    default: return false;
  }
}

// One source tensor, in the order the file stores them (token_embd, block by block, head).
struct Item {
  const TensorRef* src = nullptr;
  TensorName tn;
  bool linear = false;
  std::string hf;          // Hugging Face name; for a Linear its prefix ("...q_proj")
  size_t entry = 0;        // its first safetensors entry
};

// The q/k heads of a tensor whose rows must go back to HF's half-split RoPE order (0: none).
// Sources in llama.cpp's interleaved order (GGUF llama, llama2.c) have them permuted.
int rope_heads(const ModelConfig& c, const Item& it) {
  if (c.arch != "llama" || c.rope_layout != RopeLayout::Interleaved) return 0;
  const std::string& n = it.src->name;
  const bool q = it.tn.role == TensorRole::AttnQ || n.find("attn_q.bias") != std::string::npos;
  const bool k = it.tn.role == TensorRole::AttnK || n.find("attn_k.bias") != std::string::npos;
  return q ? c.n_heads : k ? c.n_kv_heads : 0;
}

// The inverse of permute_rope_rows (quantize_model.h): row h·d + j·d/2 + i <- row h·d + 2i + j.
void unpermute_rope_rows(const uint8_t* src, uint8_t* dst, int n_heads, int head_dim, size_t row_bytes) {
  const int half = head_dim / 2;
  for (int h = 0; h < n_heads; ++h)
    for (int i = 0; i < half; ++i)
      for (int j = 0; j < 2; ++j) {
        const size_t to = static_cast<size_t>(h) * head_dim + static_cast<size_t>(j) * half + i;
        const size_t from = static_cast<size_t>(h) * head_dim + 2 * i + j;
        std::memcpy(dst + to * row_bytes, src + from * row_bytes, row_bytes);
      }
}

template <typename T>
void to_hf_rows(std::vector<T>& v, int heads, int head_dim, size_t row_elems) {
  if (!heads) return;
  std::vector<T> tmp(v.size());
  unpermute_rope_rows(reinterpret_cast<const uint8_t*>(v.data()), reinterpret_cast<uint8_t*>(tmp.data()), heads, head_dim,
                      row_elems * sizeof(T));
  v.swap(tmp);
}

struct Export {
  const ModelFile& in;
  const QuantizeOptions& qo;
  const HfGptqExportOptions& ho;
  QuantScheme scheme;
  int64_t n_groups_of(int64_t cols) const { return ho.group_size > 0 ? cols / ho.group_size : 1; }
  std::vector<Item> items;
  SafetensorsWriter* out = nullptr;
  HfGptqExportReport rep;

  Export(const ModelFile& m, const QuantizeOptions& q, const HfGptqExportOptions& h) : in(m), qo(q), ho(h) {
    if (h.bits != 2 && h.bits != 3 && h.bits != 4 && h.bits != 8)
      fail("--bits {}: the GPTQ layout packs 2, 3, 4 or 8 bits", h.bits);
    if (h.group_size == 0 || h.group_size < -1) fail("--group-size {}: use a positive size or -1 (per channel)", h.group_size);
    scheme = h.group_size > 0 ? QuantScheme::per_group(h.bits, h.group_size, h.sym) : QuantScheme::per_channel(h.bits, h.sym);
    scheme.f16_scale = true;
    scheme.zero_at_least_one = !h.sym;
    if (q.method == QuantMethod::Gptq) {
      if (q.calib_files.empty()) fail("method gptq needs calibration text (--calib FILE)");
      if (!m.has_vocab) fail("{}: gptq needs a tokenizer to read the calibration text", m.path);
    }
    plan_items();
  }

  void plan_items() {
    for (const TensorRef* t : tensors_in_file_order(in)) {
      Item it;
      it.src = t;
      it.tn = parse_tensor_name(t->name);
      it.linear = is_linear(it.tn.role) && t->ne.size() == 2;
      it.hf = gguf_to_hf_name(t->name);
      if (it.hf.empty()) fail("{}: tensor '{}' has no Hugging Face name", in.path, t->name);
      if (it.linear) {
        it.hf.resize(it.hf.size() - std::string(".weight").size());
        const int64_t cols = t->ne[0], rows = t->ne[1];
        gptq_check_shape(in.path + ": " + it.hf, ho.bits, cols, rows);
        if (ho.group_size > 0 && cols % ho.group_size)
          fail("{}: {}: group size {} does not divide its {} inputs (groups must tile the input; pick a divisor, or "
               "--group-size -1 for one group per channel)", in.path, it.hf, ho.group_size, cols);
      }
      items.push_back(std::move(it));
    }
  }

  std::vector<SafetensorsEntry> entries() {
    std::vector<SafetensorsEntry> e;
    for (Item& it : items) {
      it.entry = e.size();
      std::vector<int64_t> shape(it.src->ne.rbegin(), it.src->ne.rend());
      if (!it.linear) {
        e.push_back({it.hf, "F16", shape});
        continue;
      }
      const int64_t cols = it.src->ne[0], rows = it.src->ne[1], G = n_groups_of(cols);
      e.push_back({it.hf + ".qweight", "I32", {cols * ho.bits / 32, rows}});
      e.push_back({it.hf + ".qzeros", "I32", {G, rows * ho.bits / 32}});
      e.push_back({it.hf + ".scales", "F16", {G, rows}});
      e.push_back({it.hf + ".g_idx", "I32", {cols}});
    }
    return e;
  }

  void write_entry(size_t i, const void* data, uint64_t n) {
    out->write(i, data, n);
    rep.bytes += n;
  }

  // A non-Linear tensor: fp16, HF row order. x: fp32, source layout.
  void emit_float(const Item& it, const float* x) {
    const size_t n = it.src->n_elements();
    std::vector<uint16_t> h(n);
    std::vector<float> rounded(ho.on_tensor ? n : 0);
    for (size_t k = 0; k < n; ++k) {
      h[k] = f32_to_f16(x[k]);
      if (!std::isfinite(f16_to_f32(h[k])))
        fail("{}: tensor '{}' element {} = {} does not fit float16", in.path, it.src->name, k, x[k]);
      if (!rounded.empty()) rounded[k] = f16_to_f32(h[k]);
    }
    if (ho.on_tensor) ho.on_tensor(it.src->name, it.src->ne, rounded.data());
    to_hf_rows(h, rope_heads(in.config, it), in.config.head_dim, static_cast<size_t>(n / it.src->rows()));
    write_entry(it.entry, h.data(), h.size() * 2);
    rep.n_params += n;
  }

  // A quantized Linear: q (source layout), its g_idx, and Ŵ = dequantize_tensor(q).
  void emit_linear(const Item& it, QuantizedTensor q, const std::vector<int32_t>& g_idx, const float* w_hat) {
    if (ho.on_tensor) ho.on_tensor(it.src->name, it.src->ne, w_hat);
    const int64_t cols = q.cols, rows = q.rows, G = n_groups_of(cols);
    const int heads = rope_heads(in.config, it);
    to_hf_rows(q.codes, heads, in.config.head_dim, static_cast<size_t>(cols));
    to_hf_rows(q.scales, heads, in.config.head_dim, static_cast<size_t>(G));
    to_hf_rows(q.zeros, heads, in.config.head_dim, static_cast<size_t>(G));
    const GptqLinear l = gptq_linear_from(std::move(q), g_idx, in.path + ": " + it.hf);
    const GptqPacked p = gptq_pack(l, in.path + ": " + it.hf);
    const uint64_t before = rep.bytes;
    write_entry(it.entry, p.qweight.data(), p.qweight.size() * 4);
    write_entry(it.entry + 1, p.qzeros.data(), p.qzeros.size() * 4);
    write_entry(it.entry + 2, p.scales.data(), p.scales.size() * 2);
    write_entry(it.entry + 3, p.g_idx.data(), p.g_idx.size() * 4);
    rep.linear_bytes += rep.bytes - before;
    rep.linear_params += static_cast<uint64_t>(rows * cols);
    rep.n_params += static_cast<uint64_t>(rows * cols);
  }

  std::vector<int32_t> plain_g_idx(int64_t cols) const {
    std::vector<int32_t> g(static_cast<size_t>(cols));
    for (int64_t c = 0; c < cols; ++c) g[static_cast<size_t>(c)] = ho.group_size > 0 ? static_cast<int32_t>(c / ho.group_size) : 0;
    return g;
  }

  void run_rtn() {
    Progress bar("quantize", items.size(), qo.progress);
    for (const Item& it : items) {
      const auto x = tensor_dequantize(*it.src, in.path);
      if (it.linear) {
        const QuantizedTensor q = quantize_tensor(x.get(), it.src->ne[1], it.src->ne[0], scheme, ScaleSearch::min_max());
        const std::vector<float> w_hat = dequantize_tensor(q);
        emit_linear(it, q, plain_g_idx(q.cols), w_hat.data());
      } else {
        emit_float(it, x.get());
      }
      in.release(*it.src);
      bar.add();
    }
    bar.finish();
  }

  void run_gptq();
};

// The Hessian of one Linear input of one block (hessian.h).
class InputHessian : public ActivationHook {
 public:
  InputHessian(int layer, LinearInput which) : layer_(layer), which_(which) {}
  void on_input(int layer, LinearInput which, const float* X, int n, int cols) override {
    if (layer != layer_ || which != which_) return;
    if (!h) h = std::make_unique<HessianAccumulator>(cols);
    h->add(X, n);
  }
  std::unique_ptr<HessianAccumulator> h;

 private:
  int layer_;
  LinearInput which_;
};

// Points the block's weight of role r at fp32 data (in × out, source layout).
void swap_in(LayerWeights& W, const Item& it, const float* data) {
  const QMatrix m{GgmlType::F32, reinterpret_cast<const uint8_t*>(data), it.src->ne[0],
                  it.src->ne.size() > 1 ? it.src->ne[1] : 1, static_cast<uint64_t>(it.src->ne[0]) * sizeof(float)};
  switch (it.tn.role) {
    case TensorRole::AttnQ: W.wq = m; break;
    case TensorRole::AttnK: W.wk = m; break;
    case TensorRole::AttnV: W.wv = m; break;
    case TensorRole::AttnOutput: W.wo = m; break;
    case TensorRole::FfnGate: W.w_gate = m; break;
    case TensorRole::FfnUp: W.w_up = m; break;
    case TensorRole::FfnDown: W.w_down = m; break;
    case TensorRole::AttnNorm: W.attn_norm = data; break;
    case TensorRole::FfnNorm: W.ffn_norm = data; break;
    case TensorRole::Bias: {
      const std::string& n = it.src->name;
      (n.find("attn_q") != std::string::npos ? W.bq : n.find("attn_k") != std::string::npos ? W.bk : W.bv) = data;
      break;
    }
    default: break;
  }
}

void Export::run_gptq() {
  const auto t0 = std::chrono::steady_clock::now();
  const ModelConfig& cfg = in.config;
  const Tokenizer tok(in.vocab);
  CalibDataOptions co;
  co.n_seq = qo.calib_n_seq;
  co.seq_len = std::min(qo.calib_seq_len, cfg.max_seq);
  co.seed = qo.calib_seed;
  const CalibData data = load_calibration(tok, qo.calib_files, co);
  const int S = static_cast<int>(data.seqs.size()), L = co.seq_len, D = cfg.dim;
  LlamaModel model(in, L);   // the source's own layout: quantized rows are swapped in as they are
  for (const auto& t : in.tensors) in.release(t);
  std::vector<float> X(static_cast<size_t>(S) * L * D), tmp(static_cast<size_t>(L) * D);
  auto seq = [&](int s) { return &X[static_cast<size_t>(s) * L * D]; };
  for (int s = 0; s < S; ++s) model.embed(data.seqs[s].data(), L, seq(s));
  rep.calib_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();

  GptqOptions go;
  go.percdamp = qo.gptq_damp;
  go.act_order = qo.gptq_act_order;
  go.block_size = qo.gptq_block;
  // AutoGPTQ's true_sequential stages: each input is seen after the Linears before it are quantized.
  const std::pair<LinearInput, std::vector<TensorRole>> stages[] = {
      {LinearInput::AttnIn, {TensorRole::AttnQ, TensorRole::AttnK, TensorRole::AttnV}},
      {LinearInput::AttnOut, {TensorRole::AttnOutput}},
      {LinearInput::FfnIn, {TensorRole::FfnGate, TensorRole::FfnUp}},
      {LinearInput::FfnDownIn, {TensorRole::FfnDown}},
  };

  size_t next = 0;
  for (; next < items.size() && items[next].tn.role == TensorRole::TokenEmbd; ++next) {
    emit_float(items[next], tensor_dequantize(*items[next].src, in.path).get());
    in.release(*items[next].src);
  }
  Progress bar("quantize", static_cast<uint64_t>(cfg.n_layers), qo.progress);
  for (int l = 0; l < cfg.n_layers; ++l) {
    size_t end = next;
    while (end < items.size() && items[end].tn.layer == l) ++end;
    LayerWeights& W = model.layer_weights(l);
    // fp32 values the block runs on until it is written: fp16-rounded norms/biases (as the
    // file will hold them), then the Linears' Ŵ. The model's pointers into them are not used
    // after the block has advanced the activations.
    std::vector<std::vector<float>> held(end - next);
    std::vector<std::unique_ptr<GptqAffineResult>> results(end - next);
    for (size_t i = next; i < end; ++i)
      if (!items[i].linear) {
        const auto x = tensor_dequantize(*items[i].src, in.path);
        auto& h = held[i - next];
        h.resize(items[i].src->n_elements());
        for (size_t k = 0; k < h.size(); ++k) h[k] = f16_to_f32(f32_to_f16(x[k]));
        swap_in(W, items[i], h.data());
      }
    for (const auto& [input, roles] : stages) {
      std::vector<size_t> mine;
      for (size_t i = next; i < end; ++i)
        if (items[i].linear && std::find(roles.begin(), roles.end(), items[i].tn.role) != roles.end()) mine.push_back(i);
      if (mine.empty()) continue;
      InputHessian col(l, input);
      model.set_hook(&col);
      for (int s = 0; s < S; ++s) {
        std::copy_n(seq(s), tmp.size(), tmp.data());
        model.forward_layer(l, tmp.data(), L, 0);
      }
      model.set_hook(nullptr);
      if (!col.h) fail("{}: block {} never read its input for {}", in.path, l, items[mine[0]].hf);
      const std::vector<float> H = col.h->finalize();
      for (size_t i : mine) {
        const Item& it = items[i];
        const auto w = tensor_dequantize(*it.src, in.path);
        auto r = std::make_unique<GptqAffineResult>(
            gptq_quantize_affine(w.get(), it.src->ne[1], it.src->ne[0], H.data(), scheme, go));
        swap_in(W, it, r->weights.data());
        results[i - next] = std::move(r);
      }
    }
    for (int s = 0; s < S; ++s) model.forward_layer(l, seq(s), L, 0);   // the quantized block feeds the next
    for (size_t i = next; i < end; ++i) {
      const Item& it = items[i];
      if (it.linear) {
        const GptqAffineResult& r = *results[i - next];
        emit_linear(it, r.tensor, r.g_idx, r.weights.data());
      } else {
        emit_float(it, held[i - next].data());
      }
      in.release(*it.src);
    }
    next = end;
    bar.add();
  }
  bar.finish();
  for (; next < items.size(); ++next) {   // output_norm, output: fp16
    emit_float(items[next], tensor_dequantize(*items[next].src, in.path).get());
    in.release(*items[next].src);
  }
}

}  // namespace

GptqLinear gptq_linear_from(QuantizedTensor q, const std::vector<int32_t>& g_idx, const std::string& what) {
  q.validate();
  const int64_t rows = q.rows, cols = q.cols;
  if (q.scheme.granularity == Granularity::PerTensor) fail("{}: per-tensor schemes have no GPTQ layout", what);
  if (q.scheme.restricted_range) fail("{}: restricted-range symmetric codes have no GPTQ layout (its sym zero is 2^(bits-1))", what);
  const int64_t G = q.scheme.granularity == Granularity::PerGroup ? cols / q.scheme.group_size : 1;
  GptqLinear l;
  l.bits = q.scheme.bits;
  l.in = cols;
  l.out = rows;
  l.n_groups = G;
  l.codes = std::move(q.codes);   // biased codes c = q − qmin: GPTQ's unsigned codes
  l.g_idx = g_idx;
  l.zeros.resize(static_cast<size_t>(G * rows));
  l.scales.resize(l.zeros.size());
  const int32_t qmin = q.scheme.qmin();
  for (int64_t o = 0; o < rows; ++o)
    for (int64_t g = 0; g < G; ++g) {
      const size_t src = static_cast<size_t>(o * G + g), dst = static_cast<size_t>(g * rows + o);
      l.zeros[dst] = q.zeros[src] - qmin;   // ŵ = s·(c + qmin − z) = s·(c − (z − qmin)); sym: 2^(b−1)
      l.scales[dst] = f32_to_f16(q.scales[src]);
      if (f16_to_f32(l.scales[dst]) != q.scales[src])
        fail("{}: scale {} is not a float16 value (quantize with QuantScheme::f16_scale)", what, q.scales[src]);
    }
  return l;
}

HfGptqExportReport export_hf_gptq(const ModelFile& in, const std::string& out_dir, const QuantizeOptions& qo,
                                  const HfGptqExportOptions& ho) {
  const auto t0 = std::chrono::steady_clock::now();
  if (qo.method != QuantMethod::Rtn && qo.method != QuantMethod::Gptq)
    fail("the Hugging Face GPTQ layout takes method rtn or gptq (not {})", quant_method_name(qo.method));
  Export ex(in, qo, ho);
  const bool gptq = qo.method == QuantMethod::Gptq;
  HfGptqConfig qc;
  qc.bits = ho.bits;
  qc.group_size = ho.group_size;
  qc.sym = ho.sym;
  qc.desc_act = gptq && qo.gptq_act_order;
  qc.static_groups = qc.desc_act;   // lowbit's act-order fixes group params up front (gptq.h)
  qc.true_sequential = gptq;
  qc.damp_percent = qo.gptq_damp;
  const nlohmann::ordered_json qjson = hf_gptq_config_json(qc);

  std::error_code ec;
  const fs::path src_dir = fs::is_directory(in.path, ec) ? fs::path(in.path) : fs::path(in.path).parent_path();
  if (in.format == ModelFormat::HuggingFace && fs::exists(out_dir, ec) && fs::equivalent(out_dir, src_dir, ec))
    fail("{}: the output directory is the source model's directory; choose another", out_dir);
  const auto names = hf_export_file_names();
  AtomicDir dir(out_dir, std::set<std::string>(names.begin(), names.end()));
  HfGptqExportReport& rep = ex.rep;
  rep.method = quant_method_name(qo.method);
  hf_write_json(dir, "config.json", hf_export_config(in, qjson));
  hf_write_json(dir, "quantize_config.json", qjson);
  rep.files = {"config.json", "quantize_config.json"};
  for (const auto& f : hf_copy_tokenizer(in, dir)) {
    rep.files.push_back(f);
    rep.tokenizer = rep.tokenizer || f == "tokenizer.json" || f == "tokenizer.model";
  }

  const std::vector<SafetensorsEntry> entries = ex.entries();
  for (const auto& e : entries) rep.tensors.push_back({e.name, e.dtype, e.shape, 0});
  {
    SafetensorsWriter writer(dir.file("model.safetensors"), entries);   // gone before `dir` on an error
    ex.out = &writer;
    for (size_t i = 0; i < entries.size(); ++i) rep.tensors[i].bytes = writer.nbytes(i);
    if (gptq) ex.run_gptq();
    else ex.run_rtn();
    writer.commit();
    ex.out = nullptr;
  }
  rep.files.push_back("model.safetensors");
  dir.commit();

  rep.bits_per_weight = rep.n_params ? 8.0 * static_cast<double>(rep.bytes) / static_cast<double>(rep.n_params) : 0;
  rep.linear_bits_per_weight =
      rep.linear_params ? 8.0 * static_cast<double>(rep.linear_bytes) / static_cast<double>(rep.linear_params) : 0;
  rep.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  rep.peak_rss_bytes = peak_rss_bytes();
  return rep;
}

}  // namespace lowbit
