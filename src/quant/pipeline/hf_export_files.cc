#include "quant/pipeline/hf_export_files.h"

#include <filesystem>
#include <fstream>
#include <sstream>

#include "core/atomic_file.h"
#include "core/error.h"

namespace lowbit {
namespace {

namespace fs = std::filesystem;

constexpr const char* kTokenizerFiles[] = {
    "tokenizer.json", "tokenizer_config.json", "special_tokens_map.json", "generation_config.json",
    "tokenizer.model", "added_tokens.json", "vocab.json", "merges.txt",
};
constexpr uint64_t kMaxCopyBytes = 1ull << 30;   // tokenizers are MBs; refuse to copy anything absurd

fs::path source_dir(const ModelFile& m) {
  const fs::path p = m.path;
  return fs::is_directory(p) ? p : p.parent_path();
}

nlohmann::ordered_json config_from_model(const ModelConfig& c, const Vocab& v, bool has_vocab) {
  const bool qwen = c.arch == "qwen2";
  nlohmann::ordered_json j;
  j["architectures"] = {qwen ? "Qwen2ForCausalLM" : "LlamaForCausalLM"};
  j["model_type"] = qwen ? "qwen2" : "llama";
  j["hidden_size"] = c.dim;
  j["intermediate_size"] = c.ffn_dim;
  j["num_hidden_layers"] = c.n_layers;
  j["num_attention_heads"] = c.n_heads;
  j["num_key_value_heads"] = c.n_kv_heads;
  j["head_dim"] = c.head_dim;
  j["hidden_act"] = "silu";
  j["max_position_embeddings"] = c.max_seq;
  j["rms_norm_eps"] = c.norm_eps;
  j["rope_theta"] = c.rope_theta;
  j["vocab_size"] = c.vocab_size;
  j["tie_word_embeddings"] = c.tied_embeddings;
  if (!qwen) j["attention_bias"] = c.qkv_bias;
  if (has_vocab && v.bos >= 0) j["bos_token_id"] = v.bos;
  if (has_vocab && v.eos >= 0) j["eos_token_id"] = v.eos;
  return j;
}

}  // namespace

std::vector<std::string> hf_export_file_names() {
  std::vector<std::string> v = {"config.json", "quantize_config.json", "model.safetensors"};
  for (const char* f : kTokenizerFiles) v.push_back(f);
  return v;
}

nlohmann::ordered_json hf_export_config(const ModelFile& m, const nlohmann::ordered_json& qconfig) {
  nlohmann::ordered_json j;
  if (m.format == ModelFormat::HuggingFace) {
    const std::string path = (source_dir(m) / "config.json").string();
    std::ifstream in(path, std::ios::binary);
    try {
      j = nlohmann::ordered_json::parse(in);   // open_model already read and checked it
    } catch (const nlohmann::json::exception& e) {
      fail("{}: cannot re-read: {}", path, e.what());
    }
    if (!j.is_object()) fail("{}: not a JSON object", path);
    j.erase("dtype");   // newer transformers' spelling of torch_dtype; one of them is enough
  } else {
    j = config_from_model(m.config, m.vocab, m.has_vocab);
  }
  j["torch_dtype"] = "float16";
  j["quantization_config"] = qconfig;
  return j;
}

void hf_write_json(AtomicDir& dir, const std::string& name, const nlohmann::ordered_json& j) {
  const std::string text = j.dump(2) + "\n";
  AtomicFile f(dir.file(name));
  f.write(text.data(), text.size());
  f.commit();
}

std::vector<std::string> hf_copy_tokenizer(const ModelFile& m, AtomicDir& dir) {
  std::vector<std::string> copied;
  if (m.format != ModelFormat::HuggingFace) return copied;
  const fs::path src = source_dir(m);
  for (const char* name : kTokenizerFiles) {
    std::error_code ec;
    const fs::path p = src / name;
    if (!fs::is_regular_file(p, ec)) continue;
    const uint64_t size = fs::file_size(p, ec);
    if (ec || size > kMaxCopyBytes) fail("{}: cannot copy ({} bytes)", p.string(), ec ? 0 : size);
    std::ifstream in(p, std::ios::binary);
    std::string bytes(static_cast<size_t>(size), '\0');
    if (!in.read(bytes.data(), static_cast<std::streamsize>(size))) fail("{}: read failed", p.string());
    AtomicFile f(dir.file(name));
    f.write(bytes.data(), bytes.size());
    f.commit();
    copied.push_back(name);
  }
  return copied;
}

}  // namespace lowbit
