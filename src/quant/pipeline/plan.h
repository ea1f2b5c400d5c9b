// The quantization plan shared by the whole-model paths: every tensor's type and size,
// decided before any work (so a bad override fails fast), in the order the output file
// stores them (token_embd, then layer by layer, then the output head), which is the order
// the layer-wise pipeline produces them.
#pragma once

#include <string>
#include <vector>

#include "formats/gguf/gguf.h"
#include "quant/pipeline/mix.h"
#include "quant/pipeline/quantize_model.h"

namespace lowbit {

struct PlannedTensor {
  const TensorRef* src = nullptr;
  GgmlType type = GgmlType::F32;
  uint64_t bytes = 0;
  int layer = -1;
  TensorRole role = TensorRole::Other;
  std::string reason;
};

// A W8A8 companion of an I8 matrix (w8a8_output.h), stored after every planned tensor.
struct W8A8Companion {
  size_t matrix = 0;    // the I8 matrix's index in QuantPlan::tensors
  bool range = false;   // input_range (static activations), else weight_scale
};

struct QuantPlan {
  const MixPreset* mix = nullptr;
  std::vector<PlannedTensor> tensors;   // in file order
  std::vector<W8A8Companion> w8a8;      // header tensors tensors.size() + i, in this order
  GgufFile header;                      // kv + tensor infos (no data)
  int index_of(const std::string& name) const;
};

QuantPlan make_plan(const ModelFile& in, const QuantizeOptions& opts, bool has_imatrix);

// Quantizes one fp32 tensor to t.type (importance: per-column weights or empty).
std::vector<uint8_t> encode_tensor(const PlannedTensor& t, const float* x, const std::vector<float>& importance);

// The calibrated path (imatrix from text, GPTQ, AWQ, SmoothQuant): one block at a time.
void quantize_layerwise(const ModelFile& in, const QuantPlan& plan, const QuantizeOptions& opts,
                        GgufStreamWriter& out, QuantizeReport& rep);

}  // namespace lowbit
