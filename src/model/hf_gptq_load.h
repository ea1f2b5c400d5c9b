// Loading a Hugging Face GPTQ directory (formats/hf/hf_gptq.h): every quantized linear,
// "<prefix>.qweight/.qzeros/.scales/.g_idx", is dequantized to fp32 at load and presented
// as the plain "<prefix>.weight" it replaces (out × in, HF row order), so the rest of
// lowbit — the q/k handling of Hugging Face directories, the forward pass, perplexity,
// convert — sees an ordinary model. Exact for lowbit's own exports: the fp32 values are the
// ones the quantizer held in memory. Costs 4 bytes per weight of memory.
#pragma once

#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "core/tensor_ref.h"
#include "formats/hf/hf_gptq.h"
#include "formats/safetensors/safetensors.h"

namespace lowbit {

struct HfGptqWeights {
  std::optional<HfGptqConfig> config;           // the directory's quantization_config
  std::map<std::string, TensorRef> linears;     // qweight name -> F32 "<prefix>.weight"
  std::set<std::string> parts;                  // qzeros/scales/g_idx names folded into them
  std::shared_ptr<std::vector<std::vector<float>>> buffers = std::make_shared<std::vector<std::vector<float>>>();

  const TensorRef* find(const std::string& qweight_name) const;
  bool is_part(const std::string& name) const { return parts.count(name) != 0; }
};

// Reads dir's quantization_config and dequantizes every "*.qweight" group of st. Error naming
// the directory and tensor when a group is incomplete, its tensors disagree (hf_gptq.h
// gptq_unpack), or packed tensors appear without a quantization_config.
HfGptqWeights hf_gptq_load(const SafetensorsFile& st, const std::string& dir);

}  // namespace lowbit
