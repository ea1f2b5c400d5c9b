// config.json -> HfConfig. transformers fills many fields from class defaults; the ones it
// would fill for the LLaMA family are filled the same way here (see hf_config.h), and a
// field that is present must have the right type and a sane value.
#include "formats/hf/hf_config.h"

#include <array>
#include <optional>

#include "core/error.h"
#include "formats/hf/hf_json.h"

namespace lowbit {
namespace {

constexpr uint64_t kMaxConfigBytes = 16ull << 20;
constexpr int64_t kMaxDim = 1 << 20;          // hidden, intermediate, heads, head_dim
constexpr int64_t kMaxLayers = 10000;
constexpr int64_t kMaxVocab = 1 << 24;
constexpr int64_t kMaxPositions = 1 << 30;

// The architectures lowbit's decoder runs: one row per architecture.
struct ArchTraits {
  const char* architecture;
  const char* model_type;
  bool qkv_bias_always;   // Qwen2 has q/k/v biases with no config switch
};
constexpr std::array<ArchTraits, 3> kArchs{{
    {"LlamaForCausalLM", "llama", false},
    {"MistralForCausalLM", "mistral", false},
    {"Qwen2ForCausalLM", "qwen2", true},
}};

std::string supported_list() {
  std::string s;
  for (const auto& a : kArchs) s += (s.empty() ? "" : ", ") + std::string(a.architecture);
  return s;
}

const ArchTraits* arch_by_name(const std::string& name) {
  for (const auto& a : kArchs)
    if (name == a.architecture) return &a;
  return nullptr;
}

const ArchTraits* arch_by_model_type(const std::string& type) {
  for (const auto& a : kArchs)
    if (type == a.model_type) return &a;
  return nullptr;
}

const ArchTraits& read_architecture(const HfJson& f) {
  const auto& root = f.root();
  if (const auto* a = HfJson::find(root, "architectures")) {
    const auto& arr = f.as_array(*a, "architectures");
    if (arr.empty()) f.fail_field("architectures", "is empty (supported: " + supported_list() + ")");
    std::string named;
    for (size_t i = 0; i < arr.size(); ++i) {
      const std::string& name = f.as_string(arr[i], fmt::format("architectures[{}]", i));
      if (const ArchTraits* t = arch_by_name(name)) return *t;
      named += (named.empty() ? "" : ", ") + hf_printable(name, 60);
    }
    f.fail_field("architectures", fmt::format("unsupported architecture {} (supported: {})", named, supported_list()));
  }
  // Old configs name only the model_type.
  if (const auto* m = HfJson::find(root, "model_type")) {
    const std::string& type = f.as_string(*m, "model_type");
    if (const ArchTraits* t = arch_by_model_type(type)) return *t;
    f.fail_field("model_type", fmt::format("unsupported model type \"{}\" (supported architectures: {})",
                                           hf_printable(type, 60), supported_list()));
  }
  f.fail_field("architectures", "missing (supported: " + supported_list() + ")");
}

HfConfig parse_config(const std::string& path) {
  const HfJson f(path, kMaxConfigBytes);
  const auto& root = f.root();
  if (!root.is_object()) f.fail_field("(top level)", "expected a JSON object");

  // An integer field: required when `dflt` is empty; lo <= value < hi.
  const auto get_int = [&](const char* key, std::optional<int64_t> dflt, int64_t lo, int64_t hi) -> int {
    const auto* v = HfJson::find(root, key);
    if (!v) {
      if (!dflt) f.fail_field(key, "missing (required)");
      return static_cast<int>(*dflt);
    }
    return static_cast<int>(f.as_int(*v, key, lo, hi));
  };
  const auto get_bool = [&](const char* key, bool dflt) {
    const auto* v = HfJson::find(root, key);
    return v ? f.as_bool(*v, key) : dflt;
  };
  const auto get_number = [&](const char* key, double dflt) {
    const auto* v = HfJson::find(root, key);
    return v ? f.as_number(*v, key) : dflt;
  };

  HfConfig c;
  const ArchTraits& arch = read_architecture(f);
  c.architecture = arch.architecture;
  const auto* mt = HfJson::find(root, "model_type");
  c.model_type = mt ? f.as_string(*mt, "model_type") : arch.model_type;

  c.hidden_size = get_int("hidden_size", std::nullopt, 1, kMaxDim);
  c.intermediate_size = get_int("intermediate_size", std::nullopt, 1, kMaxDim);
  c.num_hidden_layers = get_int("num_hidden_layers", std::nullopt, 1, kMaxLayers);
  c.num_attention_heads = get_int("num_attention_heads", std::nullopt, 1, kMaxDim);
  c.num_key_value_heads = get_int("num_key_value_heads", c.num_attention_heads, 1, kMaxDim);
  c.vocab_size = get_int("vocab_size", std::nullopt, 1, kMaxVocab);
  c.max_position_embeddings = get_int("max_position_embeddings", 2048, 1, kMaxPositions);

  if (HfJson::find(root, "head_dim")) {
    c.head_dim = get_int("head_dim", std::nullopt, 1, kMaxDim);
  } else {
    if (c.hidden_size % c.num_attention_heads != 0)
      f.fail_field("num_attention_heads", fmt::format("{} heads do not divide hidden_size {} (and no head_dim is given)",
                                                      c.num_attention_heads, c.hidden_size));
    c.head_dim = c.hidden_size / c.num_attention_heads;
  }
  if (c.num_attention_heads % c.num_key_value_heads != 0)
    f.fail_field("num_key_value_heads", fmt::format("{} key/value heads do not divide {} attention heads",
                                                    c.num_key_value_heads, c.num_attention_heads));

  c.rms_norm_eps = get_number("rms_norm_eps", c.rms_norm_eps);
  if (!(c.rms_norm_eps > 0 && c.rms_norm_eps < 1))
    f.fail_field("rms_norm_eps", fmt::format("{} is not in (0, 1)", c.rms_norm_eps));
  c.rope_theta = get_number("rope_theta", c.rope_theta);
  if (!(c.rope_theta > 0 && c.rope_theta <= 1e12))
    f.fail_field("rope_theta", fmt::format("{} is not in (0, 1e12]", c.rope_theta));

  c.tie_word_embeddings = get_bool("tie_word_embeddings", false);
  c.qkv_bias = arch.qkv_bias_always || get_bool("attention_bias", false);

  // Token ids: an integer, or a list (Llama 3.1 lists several eos ids; the first is the
  // end-of-text one). -1 means none.
  const auto get_token = [&](const char* key) -> int {
    const auto* v = HfJson::find(root, key);
    if (!v) return -1;
    if (v->is_array()) {
      if (v->empty()) return -1;
      return static_cast<int>(f.as_int((*v)[0], fmt::format("{}[0]", key), -1, c.vocab_size));
    }
    return static_cast<int>(f.as_int(*v, key, -1, c.vocab_size));
  };
  c.bos_token_id = get_token("bos_token_id");
  c.eos_token_id = get_token("eos_token_id");

  if (const auto* d = HfJson::find(root, "torch_dtype"))
    c.torch_dtype = f.as_string(*d, "torch_dtype");
  else if (const auto* d2 = HfJson::find(root, "dtype"))   // newer transformers spell it so
    c.torch_dtype = f.as_string(*d2, "dtype");

  // Things the decoder does not implement: refuse rather than compute something else.
  if (const auto* rs = HfJson::find(root, "rope_scaling")) {
    const auto& o = f.as_object(*rs, "rope_scaling");
    std::string type = "default";
    if (const auto* t = HfJson::find(o, "rope_type"))
      type = f.as_string(*t, "rope_scaling.rope_type");
    else if (const auto* t2 = HfJson::find(o, "type"))
      type = f.as_string(*t2, "rope_scaling.type");
    if (type != "default")
      f.fail_field("rope_scaling", fmt::format("RoPE scaling \"{}\" is not supported yet (lowbit implements plain RoPE)",
                                               hf_printable(type, 60)));
  }
  if (const auto* act = HfJson::find(root, "hidden_act"); act && f.as_string(*act, "hidden_act") != "silu")
    f.fail_field("hidden_act", fmt::format("\"{}\" is not supported (the LLaMA family uses silu)",
                                           hf_printable(act->get_ref<const std::string&>(), 60)));
  if (get_bool("mlp_bias", false)) f.fail_field("mlp_bias", "MLP biases are not supported");
  if (get_bool("use_sliding_window", false)) f.fail_field("use_sliding_window", "sliding-window attention is not supported");
  return c;
}

}  // namespace

HfConfig hf_read_config(const std::string& path) {
  try {
    return parse_config(path);
  } catch (const nlohmann::json::exception& e) {   // a safety net: the typed reads should catch everything
    fail("{}: {}", path, hf_json_message(e));
  }
}

}  // namespace lowbit
