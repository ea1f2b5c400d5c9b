// The calibrated, layer-wise quantization pipeline (GPTQ's "sequential" mode): calibration
// activations flow through one transformer block at a time. For block l: run the block on
// every calibration sequence while collecting its linear inputs (Σx² importance, Hessians,
// sampled rows); quantize the block's matrices with the chosen method; swap the quantized
// block into the model; run it again so the *quantized* block's outputs feed block l+1 (so
// later layers see and compensate the errors of earlier ones); write the block to the output
// file and drop its source pages. Peak memory: the calibration activations + one block.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <map>

#include "calib/dataset.h"
#include "core/error.h"
#include "core/progress.h"
#include "model/llama.h"
#include "model/weights.h"
#include "quant/codecs/codec.h"
#include "quant/methods/hessian.h"
#include "quant/pipeline/layer_methods.h"
#include "quant/pipeline/plan.h"
#include "quant/pipeline/w8a8_output.h"

namespace lowbit {
namespace {

// Gathers the inputs of one layer's linears during its calibration pass.
class LayerCollector : public ActivationHook {
 public:
  // total_rows: calibration rows that will pass; the sample takes evenly strided ones.
  LayerCollector(int layer, bool hessians, int64_t sample_rows, int64_t total_rows)
      : layer_(layer), hessians_(hessians), max_rows_(sample_rows),
        stride_(static_cast<int>(std::max<int64_t>(1, total_rows / std::max<int64_t>(1, sample_rows)))) {}
  void on_input(int layer, LinearInput which, const float* X, int n, int cols) override {
    if (layer != layer_) return;
    LayerInput& in = inputs[which];
    if (in.sum2.empty()) {
      in.cols = cols;
      in.sum2.assign(cols, 0.0);
      if (hessians_) in.hessian = std::make_unique<HessianAccumulator>(cols);
    }
    for (int r = 0; r < n; ++r)
      for (int c = 0; c < cols; ++c) {
        const double v = X[static_cast<size_t>(r) * cols + c];
        in.sum2[c] += v * v;
      }
    in.rows += n;
    if (in.hessian) in.hessian->add(X, n);
    // Keep an evenly strided sample of rows for the output-error searches (AWQ, SmoothQuant).
    for (int r = 0; r < n && static_cast<int64_t>(in.sample.size()) / cols < max_rows_; r += stride_)
      in.sample.insert(in.sample.end(), X + static_cast<size_t>(r) * cols, X + static_cast<size_t>(r + 1) * cols);
  }
  std::map<LinearInput, LayerInput> inputs;

 private:
  int layer_;
  bool hessians_;
  int64_t max_rows_;
  int stride_;
};

// A ModelFile whose q/k matrices are in GGUF (interleaved RoPE) row order, so quantized
// blocks can be swapped into the calibration model whatever the source format.
ModelFile gguf_layout_view(const ModelFile& in, std::vector<std::unique_ptr<float[]>>& owned) {
  ModelFile v;
  v.path = in.path;
  v.format = in.format;
  v.config = in.config;
  v.vocab = in.vocab;
  v.has_vocab = in.has_vocab;
  v.keepalive = in.keepalive;
  v.mapped = in.mapped;
  const bool permute = in.config.rope_layout == RopeLayout::HalfSplit && in.config.arch == "llama";
  for (const TensorRef& t : in.tensors) {
    const TensorRole r = parse_tensor_name(t.name).role;
    if (permute && (r == TensorRole::AttnQ || r == TensorRole::AttnK)) {
      owned.push_back(tensor_f32_gguf_layout(in, t));
      v.tensors.push_back({t.name, GgmlType::F32, t.ne, reinterpret_cast<const uint8_t*>(owned.back().get()), t.n_elements() * 4});
    } else {
      v.tensors.push_back(t);
    }
  }
  if (permute) v.config.rope_layout = RopeLayout::Interleaved;
  return v;
}

QMatrix as_qmatrix(const PlannedTensor& p, const std::vector<uint8_t>& bytes) {
  QMatrix q{p.type, bytes.data(), p.src->ne[0], p.src->ne[1], 0};
  ggml_row_bytes(p.type, static_cast<uint64_t>(p.src->ne[0]), &q.row_bytes);
  return q;
}

}  // namespace

void quantize_layerwise(const ModelFile& in, const QuantPlan& plan, const QuantizeOptions& opts, GgufStreamWriter& out,
                        QuantizeReport& rep) {
  const auto t0 = std::chrono::steady_clock::now();
  std::vector<std::unique_ptr<float[]>> owned;
  const ModelFile view = gguf_layout_view(in, owned);
  const ModelConfig& cfg = view.config;
  Tokenizer tok(in.vocab);
  CalibDataOptions co;
  co.n_seq = opts.calib_n_seq;
  co.seq_len = std::min(opts.calib_seq_len, cfg.max_seq);
  co.seed = opts.calib_seed;
  const CalibData data = load_calibration(tok, opts.calib_files, co);
  const int S = static_cast<int>(data.seqs.size()), L = co.seq_len, D = cfg.dim;
  LlamaModel model(view, L);
  for (const auto& t : view.tensors) view.release(t);   // loading touched every page

  // The running activations: S sequences x L tokens x dim.
  std::vector<float> X(static_cast<size_t>(S) * L * D), tmp(static_cast<size_t>(L) * D);
  for (int s = 0; s < S; ++s) model.embed(data.seqs[s].data(), L, &X[static_cast<size_t>(s) * L * D]);
  auto seq = [&](int s) { return &X[static_cast<size_t>(s) * L * D]; };
  rep.calib_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();

  const LayerMethod method = layer_method_for(opts);
  W8A8Companions w8a8(plan, opts);
  size_t next = 0;   // next tensor index in file order
  auto write_float_or_quant = [&](size_t i, const float* x, const std::vector<float>& imp) {
    const auto bytes = encode_tensor(plan.tensors[i], x, imp);
    out.write_tensor(i, bytes.data(), bytes.size());
  };

  // token_embd: looked up, not multiplied: no activation statistics apply (as in llama.cpp).
  for (; next < plan.tensors.size() && plan.tensors[next].layer < 0 && plan.tensors[next].role == TensorRole::TokenEmbd; ++next) {
    auto x = tensor_f32_gguf_layout(view, view.get(plan.tensors[next].src->name));
    write_float_or_quant(next, x.get(), {});
    view.release(*plan.tensors[next].src);
  }

  Progress bar("quantize", cfg.n_layers + 1, opts.progress);
  for (int l = 0; l < cfg.n_layers; ++l) {
    // 1. Calibration pass over block l (its inputs as the quantized earlier blocks produce them).
    LayerCollector col(l, method.needs_hessian, method.sample_rows, static_cast<int64_t>(S) * L);
    model.set_hook(&col);
    for (int s = 0; s < S; ++s) {
      std::copy_n(seq(s), tmp.size(), tmp.data());
      model.forward_layer(l, tmp.data(), L, 0);
    }
    model.set_hook(nullptr);

    // 2. The block's tensors in fp32 (GGUF layout), then the method.
    LayerTensors lt;
    for (size_t i = next; i < plan.tensors.size() && plan.tensors[i].layer == l; ++i) {
      lt.index.push_back(i);
      lt.f32.push_back(tensor_f32_gguf_layout(view, view.get(plan.tensors[i].src->name)));   // the plan names the source's tensors; read the view's
    }
    lt.bytes.resize(lt.index.size());
    method.quantize_layer(plan, cfg, opts, col.inputs, lt);

    // 3. Swap the quantized block in and advance the activations through it.
    LayerWeights& W = model.layer_weights(l);
    for (size_t k = 0; k < lt.index.size(); ++k) {
      const PlannedTensor& p = plan.tensors[lt.index[k]];
      const float* f = lt.f32[k].get();
      switch (p.role) {
        case TensorRole::AttnNorm: W.attn_norm = f; break;
        case TensorRole::FfnNorm: W.ffn_norm = f; break;
        case TensorRole::AttnQ: W.wq = as_qmatrix(p, lt.bytes[k]); break;
        case TensorRole::AttnK: W.wk = as_qmatrix(p, lt.bytes[k]); break;
        case TensorRole::AttnV: W.wv = as_qmatrix(p, lt.bytes[k]); break;
        case TensorRole::AttnOutput: W.wo = as_qmatrix(p, lt.bytes[k]); break;
        case TensorRole::FfnGate: W.w_gate = as_qmatrix(p, lt.bytes[k]); break;
        case TensorRole::FfnUp: W.w_up = as_qmatrix(p, lt.bytes[k]); break;
        case TensorRole::FfnDown: W.w_down = as_qmatrix(p, lt.bytes[k]); break;
        case TensorRole::Bias:
          if (p.src->name.find("attn_q") != std::string::npos) W.bq = f;
          else if (p.src->name.find("attn_k") != std::string::npos) W.bk = f;
          else W.bv = f;
          break;
        default: break;
      }
    }
    w8a8.attach(model, l, lt, [&] {   // W8A8: row scales in; static ranges observed here
      for (int s = 0; s < S; ++s) {
        std::copy_n(seq(s), tmp.size(), tmp.data());
        model.forward_layer(l, tmp.data(), L, 0);
      }
    });
    for (int s = 0; s < S; ++s) model.forward_layer(l, seq(s), L, 0);
    for (size_t k = 0; k < lt.index.size(); ++k) {
      out.write_tensor(lt.index[k], lt.bytes[k].data(), lt.bytes[k].size());
      view.release(*plan.tensors[lt.index[k]].src);
    }
    next += lt.index.size();
    bar.add();
  }

  // The head: output_norm stays f32; the output matrix sees the final normed activations.
  LayerCollector col(-1, method.needs_hessian, method.sample_rows, static_cast<int64_t>(S) * L);
  model.set_hook(&col);
  std::vector<float> logits(static_cast<size_t>(std::min(L, 256)) * cfg.vocab_size);
  for (int s = 0; s < S; ++s)
    for (int r = 0; r < L; r += 256) model.logits_of(seq(s) + static_cast<size_t>(r) * D, std::min(256, L - r), logits.data());
  model.set_hook(nullptr);
  LayerTensors head;
  for (size_t i = next; i < plan.tensors.size(); ++i) {
    head.index.push_back(i);
    head.f32.push_back(tensor_f32_gguf_layout(view, view.get(plan.tensors[i].src->name)));
  }
  head.bytes.resize(head.index.size());
  method.quantize_layer(plan, cfg, opts, col.inputs, head);
  for (size_t k = 0; k < head.index.size(); ++k) out.write_tensor(head.index[k], head.bytes[k].data(), head.bytes[k].size());
  w8a8.write(out);
  bar.add();
  bar.finish();
}

}  // namespace lowbit
