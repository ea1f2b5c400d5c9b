// Export to the Hugging Face GPTQ layout (formats/hf/hf_gptq.h): a directory that
// transformers, vLLM and AutoGPTQ load —
//
//   model.safetensors      every q/k/v/o/gate/up/down Linear as qweight/qzeros/scales/g_idx
//                          (b-bit codes packed in int32, fp16 scales, v1 zeros); embeddings,
//                          norms and lm_head as F16
//   config.json            the source's config (or one built from it) + quantization_config
//   quantize_config.json   the same quantization_config (AutoGPTQ reads this file)
//   tokenizer files        copied from a Hugging Face source (other sources have none to copy)
//
// Methods: rtn (min-max per group, no calibration) and gptq (gptq_quantize_affine, with the
// layer-wise calibration flow of layerwise.cc run "true sequential": within a block q/k/v are
// quantized from the block's inputs, then o_proj from the attention output the quantized
// q/k/v produce, then gate/up, then down_proj from the quantized gate/up — AutoGPTQ's
// true_sequential — and the quantized block's outputs feed the next block).
//
// The scheme is constrained so the file holds exactly what the quantizer computed: scales are
// rounded up to fp16 values before rounding any weight, and asymmetric zero points are kept
// ≥ 1 (v1 stores zero − 1), QuantScheme::f16_scale / zero_at_least_one. Reading the directory
// back (model/hf_gptq_load.h) gives bit for bit the weights the quantizer produced.
//
// Rows are written in Hugging Face order: sources in llama.cpp's interleaved RoPE order (GGUF,
// llama2.c) have their q/k rows (codes, scales, zeros alike) permuted back to HF's half-split
// order. The directory appears whole or not at all (AtomicDir).
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "formats/hf/hf_gptq.h"
#include "model/model_file.h"
#include "quant/linear/quantized_tensor.h"
#include "quant/pipeline/quantize_model.h"

namespace lowbit {

struct HfGptqExportOptions {
  int bits = 4;                 // 2, 3, 4, 8
  int group_size = 128;         // > 0 dividing every Linear's input size, or -1: per channel
  bool sym = true;              // symmetric (zero 2^(bits−1)) or asymmetric
  // Called with every tensor as the export holds it — quantized Linears dequantized, the rest
  // rounded to fp16 — fp32 in the *source's* layout and ggml shape, named the GGUF way. For
  // tests that compare the written directory with the model in memory. Optional.
  std::function<void(const std::string& name, const std::vector<int64_t>& ne, const float* values)> on_tensor;
};

struct HfGptqExportReport {
  std::string method;
  struct Tensor {
    std::string name, dtype;    // HF name, safetensors dtype
    std::vector<int64_t> shape; // row-major as stored
    uint64_t bytes = 0;
  };
  std::vector<Tensor> tensors;
  std::vector<std::string> files;       // written into the directory
  bool tokenizer = false;               // tokenizer files copied
  uint64_t n_params = 0, bytes = 0;     // all weights; all tensor bytes
  uint64_t linear_params = 0, linear_bytes = 0;   // the quantized Linears (qweight+qzeros+scales+g_idx)
  double bits_per_weight = 0, linear_bits_per_weight = 0;
  double seconds = 0, calib_seconds = 0;
  uint64_t peak_rss_bytes = 0;
};

// One quantized Linear (rows = out, cols = in, lowbit's layout: codes out × in, params per
// row) in the GPTQ layout's terms: zero = z − qmin (so symmetric schemes get 2^(bits−1)),
// scales and zeros transposed to [group][out]. Throws Error (naming `what`) for schemes the
// layout cannot hold: per-tensor, restricted range, or a scale that is not a float16 value.
GptqLinear gptq_linear_from(QuantizedTensor q, const std::vector<int32_t>& g_idx, const std::string& what);

// qo supplies the method (Rtn or Gptq; others are an Error), the calibration text and
// options, gptq_damp, gptq_act_order, gptq_block and progress. Errors before any work for a
// shape the layout cannot hold (naming the layer) or a bad option.
HfGptqExportReport export_hf_gptq(const ModelFile& in, const std::string& out_dir, const QuantizeOptions& qo,
                                  const HfGptqExportOptions& ho);

}  // namespace lowbit
