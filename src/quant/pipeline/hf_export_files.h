// The files around the weights of a Hugging Face model directory that lowbit writes:
// config.json (the source's own for a Hugging Face source, else one built from the
// ModelConfig) with a quantization_config, AutoGPTQ's quantize_config.json, and the
// tokenizer files copied from a Hugging Face source.
#pragma once

#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/atomic_dir.h"
#include "model/model_file.h"

namespace lowbit {

// Every file name an HF export may hold (what AtomicDir may replace).
std::vector<std::string> hf_export_file_names();

// config.json's content: the source's config.json (Hugging Face source) or one built from
// m.config (architectures LlamaForCausalLM / Qwen2ForCausalLM), with torch_dtype "float16"
// (the unquantized tensors are written as F16) and quantization_config = qconfig.
nlohmann::ordered_json hf_export_config(const ModelFile& m, const nlohmann::ordered_json& qconfig);

// Writes `j` as dir/name (pretty-printed, through AtomicFile).
void hf_write_json(AtomicDir& dir, const std::string& name, const nlohmann::ordered_json& j);

// Copies the tokenizer files (tokenizer.json, tokenizer_config.json, special_tokens_map.json,
// generation_config.json, tokenizer.model, ...) a Hugging Face source has; returns their names
// (empty for other sources).
std::vector<std::string> hf_copy_tokenizer(const ModelFile& m, AtomicDir& dir);

}  // namespace lowbit
