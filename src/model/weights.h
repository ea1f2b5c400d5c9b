// The decoder's weights as the forward pass reads them: matrices stay in their stored
// type, in place in the memory map (no fp32 copy); only the small 1-D tensors (norms,
// biases) are widened to fp32. Where the CPU has a decode kernel for it (kernels/repack.h),
// a matrix is repacked once into the row-interleaved layout — the same bytes, reordered, in
// memory of its own — and its pages of the map are dropped.
#pragma once

#include <memory>
#include <vector>

#include "kernels/qmatmul.h"
#include "model/model_file.h"

namespace lowbit {

struct LayerWeights {
  const float* attn_norm;
  QMatrix wq, wk, wv, wo;
  const float *bq = nullptr, *bk = nullptr, *bv = nullptr;
  const float* ffn_norm;
  QMatrix w_gate, w_up, w_down;
};

struct LlamaWeights {
  QMatrix token_embd;    // rows looked up one at a time
  const float* output_norm;
  QMatrix output;        // == token_embd when tied
  std::vector<LayerWeights> layers;
  std::vector<std::unique_ptr<float[]>> owned;
  struct FreeDeleter {
    void operator()(uint8_t* p) const;
  };
  std::vector<std::unique_ptr<uint8_t, FreeDeleter>> repacked;   // interleaved matrices (kernels/repack.h)

  static LlamaWeights load(const ModelFile& m);
  void embed(int32_t token, float* out) const;   // dequantizes one row of token_embd
  uint64_t matrix_bytes() const;                  // bytes of weights read per token
};

// Widens any float tensor (F32/F16/BF16) to fp32; Error for other types or NaN/Inf.
std::unique_ptr<float[]> tensor_to_f32(const TensorRef& t, const std::string& source);
// Any tensor with a codec to fp32 (dequantized); Error for NaN/Inf.
std::unique_ptr<float[]> tensor_dequantize(const TensorRef& t, const std::string& source);

}  // namespace lowbit
