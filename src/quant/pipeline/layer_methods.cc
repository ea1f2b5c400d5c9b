#include "quant/pipeline/layer_methods.h"

#include "core/error.h"

namespace lowbit {
namespace {

const QuantizeOptions* g_opts = nullptr;   // options of the running pipeline (one at a time)

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

void rtn_layer(const QuantPlan& plan, const ModelConfig&, int, std::map<LinearInput, LayerInput>& inputs, LayerTensors& lt) {
  quantize_rounding(plan, inputs, lt, false);
}

void imatrix_layer(const QuantPlan& plan, const ModelConfig&, int, std::map<LinearInput, LayerInput>& inputs,
                   LayerTensors& lt) {
  quantize_rounding(plan, inputs, lt, true);
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
  g_opts = &opts;
  LayerMethod m;
  switch (opts.method) {
    case QuantMethod::Rtn: m.quantize_layer = rtn_layer; break;
    case QuantMethod::Imatrix: m.quantize_layer = imatrix_layer; break;
    default: fail("method {} is not available in the layer-wise pipeline yet", quant_method_name(opts.method));
  }
  return m;
}

}  // namespace lowbit
