#include "quant/pipeline/layer_methods.h"

#include <cmath>

#include "core/error.h"
#include "quant/methods/awq.h"
#include "quant/methods/awq_fold.h"
#include "quant/methods/awq_gptq.h"
#include "quant/methods/gptq.h"
#include "quant/methods/grid.h"
#include "quant/methods/smoothquant.h"

namespace lowbit {
namespace {

// Round to nearest, weighted by the importance matrix when `weighted` (llama.cpp's imatrix
// quantization: each column's squared error counts in proportion to mean x²).
void quantize_rounding(const QuantPlan& plan, const std::map<LinearInput, LayerInput>& inputs, LayerTensors& lt,
                       bool weighted) {
  for (size_t k = 0; k < lt.index.size(); ++k) {
    const PlannedTensor& p = plan.tensors[lt.index[k]];
    std::vector<float> imp;
    if (weighted && p.type != GgmlType::F32)
      if (const LayerInput* in = input_for(p.role, inputs)) imp = in->importance();
    lt.bytes[k] = encode_tensor(p, lt.f32[k].get(), imp);
  }
}

void rtn_layer(const QuantPlan& plan, const ModelConfig&, const QuantizeOptions&, std::map<LinearInput, LayerInput>& inputs,
               LayerTensors& lt) {
  quantize_rounding(plan, inputs, lt, false);
}

void imatrix_layer(const QuantPlan& plan, const ModelConfig&, const QuantizeOptions&, std::map<LinearInput, LayerInput>& inputs,
                   LayerTensors& lt) {
  quantize_rounding(plan, inputs, lt, true);
}

GptqOptions gptq_options(const QuantizeOptions& opts) {
  GptqOptions go;
  go.percdamp = opts.gptq_damp;
  go.act_order = opts.gptq_act_order;
  go.block_size = opts.gptq_block;
  return go;
}

bool gptq_applies(const PlannedTensor& p, const LayerInput* in) {
  return p.type != GgmlType::F32 && in && in->hessian && grid_supported(p.type);
}

// GPTQ (Frantar et al. 2022) per matrix, targeting the planned GGUF block type; the
// Hessian H = 2/n Σ x xᵀ of the matrix's input is shared by the matrices that read it.
void gptq_layer(const QuantPlan& plan, const ModelConfig&, const QuantizeOptions& opts, std::map<LinearInput, LayerInput>& inputs,
                LayerTensors& lt) {
  std::map<const LayerInput*, std::vector<float>> hessians;
  const GptqOptions go = gptq_options(opts);
  for (size_t k = 0; k < lt.index.size(); ++k) {
    const PlannedTensor& p = plan.tensors[lt.index[k]];
    const LayerInput* in = p.type == GgmlType::F32 ? nullptr : input_for(p.role, inputs);
    if (!gptq_applies(p, in)) {   // norms, float fallbacks: plain (weighted) rounding
      lt.bytes[k] = encode_tensor(p, lt.f32[k].get(), in ? in->importance() : std::vector<float>{});
      continue;
    }
    auto& H = hessians[in];
    if (H.empty()) H = in->hessian->finalize();
    GptqGgufResult r = gptq_quantize_gguf(p.type, lt.f32[k].get(), p.src->ne[1], p.src->ne[0], H.data(), go);
    lt.bytes[k] = std::move(r.data);
  }
}

int find_role(const QuantPlan& plan, const LayerTensors& lt, TensorRole role) {
  for (size_t k = 0; k < lt.index.size(); ++k)
    if (plan.tensors[lt.index[k]].role == role) return static_cast<int>(k);
  return -1;
}

enum class Scaling { Smooth, Awq, AwqGptq };

// Activation-aware scaling shared by AWQ, AWQ+GPTQ and SmoothQuant: for each input, the
// scales s of the matrices reading it are searched (AWQ) or computed (SmoothQuant);
// consumers become W·diag(s) and the producer (a norm, or the previous matrix's rows) is
// divided by s, so the fp32 function is unchanged (awq_fold.h). Then every matrix is encoded:
//   Smooth, Awq  rounded, weighted by the importance of its (now scaled) input; I8 matrices
//                (SmoothQuant W8A8) get per-channel int8 codes and row scales instead
//   AwqGptq      GPTQ under the Hessian of the scaled input, H' = diag(1/s) H diag(1/s)
//                (awq_gptq.h); matrices outside the scaled groups (the head, attn_output
//                under GQA) get plain GPTQ
void scaled_layer(const QuantPlan& plan, const ModelConfig& cfg, const QuantizeOptions& opts,
                  std::map<LinearInput, LayerInput>& inputs, LayerTensors& lt, Scaling how) {
  struct Group {
    LinearInput input;
    std::vector<TensorRole> consumers;
    TensorRole producer;          // norm or previous matrix
    bool producer_is_norm;
  };
  std::vector<Group> groups = {
      {LinearInput::AttnIn, {TensorRole::AttnQ, TensorRole::AttnK, TensorRole::AttnV}, TensorRole::AttnNorm, true},
      {LinearInput::FfnIn, {TensorRole::FfnGate, TensorRole::FfnUp}, TensorRole::FfnNorm, true},
      {LinearInput::FfnDownIn, {TensorRole::FfnDown}, TensorRole::FfnUp, false},
  };
  // o_proj's input can only be rescaled through v_proj's rows when they line up (no GQA).
  if (cfg.n_kv_heads == cfg.n_heads) groups.push_back({LinearInput::AttnOut, {TensorRole::AttnOutput}, TensorRole::AttnV, false});
  std::map<LinearInput, std::vector<float>> input_scale;
  std::map<const LayerInput*, std::vector<float>> hessians;   // AwqGptq: H' per input
  const GptqOptions go = gptq_options(opts);
  AwqOptions ao;
  ao.clip = opts.awq_clip;
  for (const Group& g : groups) {
    auto it = inputs.find(g.input);
    const int prod = find_role(plan, lt, g.producer);
    if (it == inputs.end() || prod < 0 || it->second.sample.empty()) continue;
    const LayerInput& in = it->second;
    std::vector<int> ks;
    std::vector<MatrixView> views;
    std::vector<GgmlType> types;
    for (TensorRole r : g.consumers) {
      const int k = find_role(plan, lt, r);
      if (k < 0 || plan.tensors[lt.index[k]].type == GgmlType::F32) continue;
      ks.push_back(k);
      const PlannedTensor& p = plan.tensors[lt.index[k]];
      views.push_back({lt.f32[k].get(), p.src->ne[1], p.src->ne[0]});
      types.push_back(p.type);
    }
    if (ks.empty()) continue;
    const int64_t n = static_cast<int64_t>(in.sample.size()) / in.cols;
    std::vector<float> s;
    if (how == Scaling::Smooth) {
      s = smooth_scales(channel_absmax(in.sample.data(), n, in.cols), views, opts.smooth_alpha);
      for (size_t i = 0; i < ks.size(); ++i) {
        const PlannedTensor& p = plan.tensors[lt.index[ks[i]]];
        scale_columns(lt.f32[ks[i]].get(), p.src->ne[1], p.src->ne[0], s);
      }
    } else {
      // One search per input; the group is judged with its first matrix's block type.
      const AwqResult r = awq_search(in.sample.data(), n, in.cols, views, awq_quantizer(types[0]), ao);
      s = r.scales;
      for (size_t i = 0; i < ks.size(); ++i) std::copy(r.weights[i].begin(), r.weights[i].end(), lt.f32[ks[i]].get());
    }
    const PlannedTensor& pp = plan.tensors[lt.index[prod]];
    if (g.producer_is_norm) fold_into_norm({lt.f32[prod].get(), static_cast<size_t>(pp.src->ne[0])}, s);
    else fold_into_linear_rows(lt.f32[prod].get(), pp.src->ne[1], pp.src->ne[0], s);
    input_scale[g.input] = s;
  }
  // Encoding waits until every fold is done: ffn_up (attn_v) is both a consumer of one group
  // and the producer of the next, whose 1/s lands in its rows.
  for (size_t k = 0; k < lt.index.size(); ++k) {
    const PlannedTensor& p = plan.tensors[lt.index[k]];
    if (p.type == GgmlType::I8) {   // SmoothQuant W8A8: symmetric per-output-channel int8
      const Int8Weights q = quantize_weights_int8_per_channel(lt.f32[k].get(), p.src->ne[1], p.src->ne[0]);
      lt.bytes[k].assign(reinterpret_cast<const uint8_t*>(q.q.data()), reinterpret_cast<const uint8_t*>(q.q.data()) + q.q.size());
      lt.row_scales.resize(lt.index.size());
      lt.row_scales[k] = q.scales;
      continue;
    }
    const LayerInput* in = p.type == GgmlType::F32 ? nullptr : input_for(p.role, inputs);
    const std::vector<float>* s = nullptr;   // the matrix now reads x / s
    for (const auto& [w, sc] : input_scale)
      if (in && &inputs.at(w) == in) s = &sc;
    if (how == Scaling::AwqGptq && gptq_applies(p, in)) {   // H' = diag(1/s) H diag(1/s) (awq_gptq.h)
      std::vector<float>& H = hessians[in];
      if (H.empty()) {
        H = in->hessian->finalize();
        if (s) H = scale_hessian(H.data(), in->cols, *s);
      }
      lt.bytes[k] = gptq_quantize_gguf(p.type, lt.f32[k].get(), p.src->ne[1], p.src->ne[0], H.data(), go).data;
      continue;
    }
    std::vector<float> imp;
    if (in) {
      imp = in->importance();
      if (s)
        for (size_t j = 0; j < imp.size(); ++j) imp[j] /= (*s)[j] * (*s)[j];
    }
    lt.bytes[k] = encode_tensor(p, lt.f32[k].get(), imp);
  }
}

void awq_layer(const QuantPlan& plan, const ModelConfig& cfg, const QuantizeOptions& opts,
               std::map<LinearInput, LayerInput>& inputs, LayerTensors& lt) {
  scaled_layer(plan, cfg, opts, inputs, lt, Scaling::Awq);
}

void awq_gptq_layer(const QuantPlan& plan, const ModelConfig& cfg, const QuantizeOptions& opts,
                    std::map<LinearInput, LayerInput>& inputs, LayerTensors& lt) {
  scaled_layer(plan, cfg, opts, inputs, lt, Scaling::AwqGptq);
}

void smoothquant_layer(const QuantPlan& plan, const ModelConfig& cfg, const QuantizeOptions& opts,
                       std::map<LinearInput, LayerInput>& inputs, LayerTensors& lt) {
  scaled_layer(plan, cfg, opts, inputs, lt, Scaling::Smooth);
}

}  // namespace

std::vector<float> LayerInput::importance() const {
  std::vector<float> v(sum2.size());
  for (size_t i = 0; i < v.size(); ++i) v[i] = rows ? static_cast<float>(sum2[i] / rows) : 0.0f;
  return v;
}

const LayerInput* input_for(TensorRole role, const std::map<LinearInput, LayerInput>& inputs) {
  LinearInput w;
  switch (role) {
    case TensorRole::AttnQ: case TensorRole::AttnK: case TensorRole::AttnV: w = LinearInput::AttnIn; break;
    case TensorRole::AttnOutput: w = LinearInput::AttnOut; break;
    case TensorRole::FfnGate: case TensorRole::FfnUp: w = LinearInput::FfnIn; break;
    case TensorRole::FfnDown: w = LinearInput::FfnDownIn; break;
    case TensorRole::Output: w = LinearInput::OutputIn; break;
    default: return nullptr;
  }
  auto it = inputs.find(w);
  return it == inputs.end() ? nullptr : &it->second;
}

LayerMethod layer_method_for(const QuantizeOptions& opts) {
  LayerMethod m;
  switch (opts.method) {
    case QuantMethod::Rtn: m.quantize_layer = rtn_layer; break;
    case QuantMethod::Imatrix: m.quantize_layer = imatrix_layer; break;
    case QuantMethod::Gptq:
      m.quantize_layer = gptq_layer;
      m.needs_hessian = true;
      break;
    case QuantMethod::Awq:
      m.quantize_layer = awq_layer;
      m.sample_rows = 512;
      break;
    case QuantMethod::SmoothQuant:
      m.quantize_layer = smoothquant_layer;
      m.sample_rows = 2048;
      break;
    case QuantMethod::AwqGptq:
      m.quantize_layer = awq_gptq_layer;
      m.needs_hessian = true;
      m.sample_rows = 512;
      break;
  }
  return m;
}

}  // namespace lowbit
