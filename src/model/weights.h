// The decoder's weights as the fp32 forward pass reads them. F32 tensors are used in place
// (from the memory map); F16/BF16 tensors are widened once into owned buffers.
#pragma once

#include <memory>
#include <vector>

#include "model/model_file.h"

namespace lowbit {

struct LayerWeights {
  const float* attn_norm;
  const float *wq, *wk, *wv, *wo;
  const float *bq = nullptr, *bk = nullptr, *bv = nullptr;
  const float* ffn_norm;
  const float *w_gate, *w_up, *w_down;
};

struct LlamaWeights {
  const float* token_embd;
  const float* output_norm;
  const float* output;   // == token_embd when tied
  std::vector<LayerWeights> layers;
  std::vector<std::unique_ptr<float[]>> owned;

  static LlamaWeights load(const ModelFile& m);
};

// Widens any float tensor (F32/F16/BF16) to fp32; Error for other types. Checks for NaN/Inf.
std::unique_ptr<float[]> tensor_to_f32(const TensorRef& t, const std::string& source);

}  // namespace lowbit
