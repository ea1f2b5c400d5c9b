// What the layer-wise pipeline asks of a method: which statistics to collect for a block,
// and how to turn the block's fp32 tensors into file bytes (possibly also changing the fp32
// tensors, e.g. AWQ folding scales into the norms, which are then written as they are).
#pragma once

#include <map>
#include <memory>
#include <vector>

#include "model/llama.h"
#include "quant/methods/hessian.h"
#include "quant/pipeline/plan.h"

namespace lowbit {

struct LayerInput {
  int cols = 0;
  int64_t rows = 0;
  std::vector<double> sum2;                      // Σ x² per column
  std::unique_ptr<HessianAccumulator> hessian;   // when the method needs it
  std::vector<float> sample;                     // strided sample of rows (rows x cols)
  std::vector<float> importance() const;         // mean x² per column
};

struct LayerTensors {
  std::vector<size_t> index;                     // into QuantPlan::tensors, file order
  std::vector<std::unique_ptr<float[]>> f32;     // GGUF layout; methods may modify
  std::vector<std::vector<uint8_t>> bytes;       // output, filled by the method
  std::vector<std::vector<float>> row_scales;    // I8 (W8A8) matrices: per-row scales, else empty
};

struct LayerMethod {
  bool needs_hessian = false;
  int64_t sample_rows = 0;
  // layer -1 is the head (output_norm, output).
  void (*quantize_layer)(const QuantPlan& plan, const ModelConfig& cfg, const QuantizeOptions& opts,
                         std::map<LinearInput, LayerInput>& inputs, LayerTensors& lt) = nullptr;
};

LayerMethod layer_method_for(const QuantizeOptions& opts);

// Which collected input feeds a tensor of this role (nullptr: none, e.g. norms).
const LayerInput* input_for(TensorRole role, const std::map<LinearInput, LayerInput>& inputs);

}  // namespace lowbit
