#include "model/gguf_model.h"

#include "core/error.h"

namespace lowbit {
namespace {

std::string key(const ModelConfig& c, const char* suffix) { return c.arch + "." + suffix; }

int get_int(const GgufFile& f, const std::string& k, const std::string& path, int def, bool required) {
  auto v = f.get_u64(k);
  if (!v) {
    if (required) fail("{}: GGUF metadata key '{}' is missing", path, k);
    return def;
  }
  if (*v > (1u << 30)) fail("{}: GGUF metadata key '{}' = {} is out of range", path, k, *v);
  return static_cast<int>(*v);
}

}  // namespace

ModelConfig config_from_gguf(const GgufFile& f, const std::string& path) {
  ModelConfig c;
  auto arch = f.get_str("general.architecture");
  if (!arch) fail("{}: GGUF metadata key 'general.architecture' is missing", path);
  if (*arch != "llama" && *arch != "qwen2" && *arch != "mistral")
    fail("{}: architecture '{}' is not supported (supported: llama, mistral, qwen2)", path, *arch);
  c.arch = *arch == "mistral" ? "llama" : *arch;
  const std::string a = *arch + ".";
  c.name = f.get_str("general.name").value_or("");
  c.dim = get_int(f, a + "embedding_length", path, 0, true);
  c.n_layers = get_int(f, a + "block_count", path, 0, true);
  c.ffn_dim = get_int(f, a + "feed_forward_length", path, 0, true);
  c.n_heads = get_int(f, a + "attention.head_count", path, 0, true);
  c.n_kv_heads = get_int(f, a + "attention.head_count_kv", path, c.n_heads, false);
  c.head_dim = get_int(f, a + "attention.key_length", path, c.n_heads ? c.dim / c.n_heads : 0, false);
  c.max_seq = get_int(f, a + "context_length", path, 2048, false);
  c.rope_theta = static_cast<float>(f.get_f64(a + "rope.freq_base").value_or(10000.0));
  c.norm_eps = static_cast<float>(f.get_f64(a + "attention.layer_norm_rms_epsilon").value_or(1e-5));
  c.rope_layout = c.arch == "qwen2" ? RopeLayout::HalfSplit : RopeLayout::Interleaved;
  c.qkv_bias = f.find_tensor("blk.0.attn_q.bias") != nullptr;
  c.tied_embeddings = f.find_tensor("output.weight") == nullptr;
  int vocab = get_int(f, a + "vocab_size", path, 0, false);
  if (!vocab) {
    if (auto* t = f.find_tensor("token_embd.weight"); t && t->ne.size() >= 2) vocab = static_cast<int>(t->ne[1]);
    else if (auto* tok = f.find("tokenizer.ggml.tokens")) vocab = static_cast<int>(tok->arr.size());
  }
  c.vocab_size = vocab;
  c.validate(path);
  return c;
}

bool gguf_has_vocab(const GgufFile& f) { return f.find("tokenizer.ggml.tokens") != nullptr; }

Vocab vocab_from_gguf(const GgufFile& f, const std::string& path) {
  Vocab v;
  auto model = f.get_str("tokenizer.ggml.model");
  if (!model) fail("{}: GGUF metadata key 'tokenizer.ggml.model' is missing", path);
  if (*model == "llama") v.kind = VocabKind::Spm;
  else if (*model == "gpt2") v.kind = VocabKind::Bpe;
  else fail("{}: tokenizer model '{}' is not supported (supported: llama, gpt2)", path, *model);
  const auto* toks = f.find("tokenizer.ggml.tokens");
  if (!toks) fail("{}: GGUF metadata key 'tokenizer.ggml.tokens' is missing", path);
  v.tokens = toks->as_str_array("tokenizer.ggml.tokens");
  const size_t n = v.tokens.size();
  if (n == 0) fail("{}: 'tokenizer.ggml.tokens' is empty", path);
  if (const auto* s = f.find("tokenizer.ggml.scores")) {
    v.scores = s->as_f32_array("tokenizer.ggml.scores");
    if (v.scores.size() != n) fail("{}: 'tokenizer.ggml.scores' has {} entries for {} tokens", path, v.scores.size(), n);
  }
  if (const auto* t = f.find("tokenizer.ggml.token_type")) {
    for (int64_t x : t->as_i64_array("tokenizer.ggml.token_type")) v.types.push_back(static_cast<int32_t>(x));
    if (v.types.size() != n) fail("{}: 'tokenizer.ggml.token_type' has {} entries for {} tokens", path, v.types.size(), n);
  } else {
    v.types.assign(n, kTokNormal);
  }
  if (v.scores.empty()) v.scores.assign(n, 0.0f);
  if (const auto* m = f.find("tokenizer.ggml.merges")) v.merges = m->as_str_array("tokenizer.ggml.merges");
  auto id = [&](const char* k, int32_t def) -> int32_t {
    const auto* val = f.find(k);
    if (!val) return def;
    const int64_t x = val->as_i64(k);
    if (x == -1 || x == 0xFFFFFFFFll) return -1;  // llama.cpp writes "no such token" as u32 -1
    if (x < 0 || static_cast<uint64_t>(x) >= n) fail("{}: '{}' = {} is not a token id (vocab has {})", path, k, x, n);
    return static_cast<int32_t>(x);
  };
  v.bos = id("tokenizer.ggml.bos_token_id", -1);
  v.eos = id("tokenizer.ggml.eos_token_id", -1);
  v.unk = id("tokenizer.ggml.unknown_token_id", -1);
  v.pad = id("tokenizer.ggml.padding_token_id", -1);
  auto flag = [&](const char* k, bool def) {
    const auto* val = f.find(k);
    return val ? val->as_u64(k) != 0 : def;
  };
  v.add_bos = flag("tokenizer.ggml.add_bos_token", true);
  v.add_eos = flag("tokenizer.ggml.add_eos_token", false);
  v.add_space_prefix = flag("tokenizer.ggml.add_space_prefix", v.kind == VocabKind::Spm);
  v.pre = f.get_str("tokenizer.ggml.pre").value_or("default");
  return v;
}

void config_to_gguf(const ModelConfig& c, GgufFile& f) {
  f.set("general.architecture", GgufValue::make_str(c.arch));
  if (!c.name.empty()) f.set("general.name", GgufValue::make_str(c.name));
  f.set(key(c, "context_length"), GgufValue::make_u32(c.max_seq));
  f.set(key(c, "embedding_length"), GgufValue::make_u32(c.dim));
  f.set(key(c, "block_count"), GgufValue::make_u32(c.n_layers));
  f.set(key(c, "feed_forward_length"), GgufValue::make_u32(c.ffn_dim));
  f.set(key(c, "rope.dimension_count"), GgufValue::make_u32(c.head_dim));
  f.set(key(c, "attention.head_count"), GgufValue::make_u32(c.n_heads));
  f.set(key(c, "attention.head_count_kv"), GgufValue::make_u32(c.n_kv_heads));
  if (c.head_dim * c.n_heads != c.dim) {
    f.set(key(c, "attention.key_length"), GgufValue::make_u32(c.head_dim));
    f.set(key(c, "attention.value_length"), GgufValue::make_u32(c.head_dim));
  }
  f.set(key(c, "attention.layer_norm_rms_epsilon"), GgufValue::make_f32(c.norm_eps));
  f.set(key(c, "rope.freq_base"), GgufValue::make_f32(c.rope_theta));
  f.set(key(c, "vocab_size"), GgufValue::make_u32(c.vocab_size));
}

void vocab_to_gguf(const Vocab& v, GgufFile& f) {
  f.set("tokenizer.ggml.model", GgufValue::make_str(v.kind == VocabKind::Spm ? "llama" : "gpt2"));
  f.set("tokenizer.ggml.pre", GgufValue::make_str(v.pre));
  f.set("tokenizer.ggml.tokens", GgufValue::make_str_array(v.tokens));
  if (v.kind == VocabKind::Spm) f.set("tokenizer.ggml.scores", GgufValue::make_f32_array(v.scores));
  f.set("tokenizer.ggml.token_type", GgufValue::make_i32_array(v.types));
  if (!v.merges.empty()) f.set("tokenizer.ggml.merges", GgufValue::make_str_array(v.merges));
  if (v.bos >= 0) f.set("tokenizer.ggml.bos_token_id", GgufValue::make_u32(v.bos));
  if (v.eos >= 0) f.set("tokenizer.ggml.eos_token_id", GgufValue::make_u32(v.eos));
  if (v.unk >= 0) f.set("tokenizer.ggml.unknown_token_id", GgufValue::make_u32(v.unk));
  if (v.pad >= 0) f.set("tokenizer.ggml.padding_token_id", GgufValue::make_u32(v.pad));
  f.set("tokenizer.ggml.add_bos_token", GgufValue::make_bool(v.add_bos));
  f.set("tokenizer.ggml.add_eos_token", GgufValue::make_bool(v.add_eos));
  if (v.kind == VocabKind::Spm) f.set("tokenizer.ggml.add_space_prefix", GgufValue::make_bool(v.add_space_prefix));
}

}  // namespace lowbit
