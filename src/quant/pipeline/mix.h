// Named quantization mixes, as llama.cpp's llama-quantize presets define them
// (src/llama-quant.cpp llama_tensor_get_type, LLaMA architecture): a default block type
// plus per-role bumps (e.g. Q4_K_M gives attn_v and ffn_down of the "more bits" layers
// Q6_K, and the output matrix Q6_K), then per-tensor user overrides, then the row-length
// fallback (a type whose block does not divide the row is replaced by the nearest type
// that fits; every such change is reported, never silent).
#pragma once

#include <optional>
#include <regex>
#include <string>
#include <vector>

#include "core/ggml_type.h"
#include "model/config.h"
#include "model/tensor_role.h"

namespace lowbit {

struct MixPreset {
  const char* name;        // "Q4_K_M"
  GgmlType base;           // the default matrix type
  uint32_t file_type;      // llama_ftype, written to general.file_type
  const char* summary;
};

const std::vector<MixPreset>& mix_presets();
const MixPreset* find_mix(const std::string& name);   // case-insensitive; also plain type names

struct TypeOverride {
  std::string pattern;     // regex, searched in the tensor name ("ffn_down", "blk\\.0\\..*")
  std::regex re;
  GgmlType type;
  int matched = 0;
};
// Parses "PATTERN=TYPE"; Error on a bad regex or unknown type.
TypeOverride parse_override(const std::string& spec);

struct TypeChoice {
  GgmlType type;
  std::string reason;      // why it differs from the preset's base, or "" ; includes fallbacks
};

// Decides one tensor's type. n_dims == 1 tensors stay F32.
TypeChoice choose_tensor_type(const MixPreset& mix, const std::string& name, const std::vector<int64_t>& ne,
                              const ModelConfig& cfg, bool has_imatrix, bool pure,
                              std::vector<TypeOverride>& overrides);

// The nearest type whose block divides row_len (llama.cpp's fallback chain), or the type
// itself when it already fits.
GgmlType fallback_type(GgmlType t, int64_t row_len);

}  // namespace lowbit
