#include "model/model_file.h"

#include <filesystem>
#include <fstream>

#include "core/error.h"
#include "formats/hf/hf_config.h"
#include "formats/hf/hf_tokenizer.h"
#include "formats/llama2c/llama2c.h"
#include "formats/safetensors/safetensors.h"
#include "model/gguf_model.h"
#include "model/hf_gptq_load.h"
#include "model/tensor_role.h"

namespace lowbit {
namespace fs = std::filesystem;

namespace {

bool has_gguf_magic(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  char m[4] = {};
  in.read(m, 4);
  return in.gcount() == 4 && m[0] == 'G' && m[1] == 'G' && m[2] == 'U' && m[3] == 'F';
}

ModelFile open_gguf(const std::string& path, const OpenOptions& opts) {
  ModelFile m;
  m.path = path;
  m.format = ModelFormat::Gguf;
  GgufFile g = gguf_read(path);
  if (g.tensors.empty() && !opts.vocab_only)
    fail("{}: GGUF file has no tensors (a vocab-only file?); it cannot be run", path);
  if (!opts.vocab_only || g.find("general.architecture")) {
    try {
      m.config = config_from_gguf(g, path);
    } catch (const Error&) {
      if (!opts.vocab_only) throw;
    }
  }
  if (gguf_has_vocab(g)) {
    m.vocab = vocab_from_gguf(g, path);
    m.has_vocab = true;
  }
  for (const auto& t : g.tensors) m.tensors.push_back({t.name, t.type, t.ne, t.data, t.nbytes});
  m.kv = std::move(g.kv);
  m.keepalive.push_back(g.map);
  if (g.map) m.mapped.emplace_back(g.map->data(), g.map->size());
  return m;
}

// Hugging Face names <-> GGUF names (llama.cpp's tensor map for the LLaMA family).
constexpr std::pair<const char*, const char*> kGlobalNames[] = {
    {"model.embed_tokens.weight", "token_embd.weight"},
    {"model.norm.weight", "output_norm.weight"},
    {"lm_head.weight", "output.weight"},
};
constexpr std::pair<const char*, const char*> kLayerNames[] = {
    {"input_layernorm.weight", "attn_norm.weight"},
    {"self_attn.q_proj.weight", "attn_q.weight"},
    {"self_attn.k_proj.weight", "attn_k.weight"},
    {"self_attn.v_proj.weight", "attn_v.weight"},
    {"self_attn.q_proj.bias", "attn_q.bias"},
    {"self_attn.k_proj.bias", "attn_k.bias"},
    {"self_attn.v_proj.bias", "attn_v.bias"},
    {"self_attn.o_proj.weight", "attn_output.weight"},
    {"post_attention_layernorm.weight", "ffn_norm.weight"},
    {"mlp.gate_proj.weight", "ffn_gate.weight"},
    {"mlp.up_proj.weight", "ffn_up.weight"},
    {"mlp.down_proj.weight", "ffn_down.weight"},
};

// `from` in the first column of the tables -> the second (or back when reverse).
std::string map_tensor_name(const std::string& from, bool reverse) {
  const std::string src_prefix = reverse ? "blk." : "model.layers.", dst_prefix = reverse ? "model.layers." : "blk.";
  for (auto [a, b] : kGlobalNames)
    if (from == (reverse ? b : a)) return reverse ? a : b;
  if (from.compare(0, src_prefix.size(), src_prefix) == 0) {
    const size_t dot = from.find('.', src_prefix.size());
    if (dot != std::string::npos) {
      const std::string idx = from.substr(src_prefix.size(), dot - src_prefix.size());
      const std::string rest = from.substr(dot + 1);
      for (auto [a, b] : kLayerNames)
        if (rest == (reverse ? b : a)) return dst_prefix + idx + "." + (reverse ? a : b);
    }
  }
  return "";
}

ModelFile open_hf(const std::string& path_in) {
  fs::path dir = path_in;
  if (!fs::is_directory(dir)) dir = dir.parent_path();
  if (dir.empty()) dir = ".";
  ModelFile m;
  m.path = dir.string();
  m.format = ModelFormat::HuggingFace;
  const HfConfig hc = hf_read_config((dir / "config.json").string());
  ModelConfig& c = m.config;
  c.arch = hc.model_type == "qwen2" ? "qwen2" : "llama";
  c.name = dir.filename().string();
  c.dim = hc.hidden_size;
  c.n_layers = hc.num_hidden_layers;
  c.n_heads = hc.num_attention_heads;
  c.n_kv_heads = hc.num_key_value_heads;
  c.head_dim = hc.head_dim;
  c.ffn_dim = hc.intermediate_size;
  c.vocab_size = hc.vocab_size;
  c.max_seq = hc.max_position_embeddings;
  c.rope_theta = static_cast<float>(hc.rope_theta);
  c.norm_eps = static_cast<float>(hc.rms_norm_eps);
  c.rope_layout = RopeLayout::HalfSplit;
  c.qkv_bias = hc.qkv_bias;
  c.validate(m.path + "/config.json");

  const fs::path tok = dir / "tokenizer.json";
  if (fs::exists(tok)) {
    const fs::path tok_cfg = dir / "tokenizer_config.json";
    m.vocab = hf_read_tokenizer(tok.string(), fs::exists(tok_cfg) ? tok_cfg.string() : "");
    m.has_vocab = true;
  }

  auto st = std::make_shared<SafetensorsFile>(safetensors_read_dir(dir.string()));
  const HfGptqWeights gptq = hf_gptq_load(*st, m.path);   // GPTQ linears, dequantized to fp32
  for (const auto& t : st->tensors) {
    if (gptq.is_part(t.name)) continue;                      // folded into its qweight's entry
    const TensorRef* dq = gptq.find(t.name);
    const std::string name = hf_to_gguf_name(dq ? dq->name : t.name);
    if (name.empty()) {
      if (t.name.find("rotary_emb.inv_freq") != std::string::npos) continue;  // recomputed
      fail("{}: tensor '{}' has no place in a {} model", m.path, t.name, hc.architecture);
    }
    TensorRef r = dq ? *dq : t.ref();
    r.name = name;
    m.tensors.push_back(std::move(r));
  }
  c.tied_embeddings = m.find("output.weight") == nullptr;
  for (const auto& map : st->maps) m.mapped.emplace_back(map->data(), map->size());
  m.keepalive.push_back(st);
  m.keepalive.push_back(gptq.buffers);
  return m;
}

ModelFile open_llama2c(const std::string& path, const OpenOptions& opts) {
  ModelFile m;
  m.path = path;
  m.format = ModelFormat::Llama2c;
  auto ck = std::make_shared<Llama2cCheckpoint>(llama2c_read(path));
  ModelConfig& c = m.config;
  c.arch = "llama";
  c.name = fs::path(path).stem().string();
  c.dim = ck->dim;
  c.n_layers = ck->n_layers;
  c.n_heads = ck->n_heads;
  c.n_kv_heads = ck->n_kv_heads;
  c.head_dim = ck->dim / ck->n_heads;
  c.ffn_dim = ck->hidden_dim;
  c.vocab_size = ck->vocab_size;
  c.max_seq = ck->seq_len;
  c.rope_theta = 10000.0f;
  c.norm_eps = 1e-5f;
  c.rope_layout = RopeLayout::Interleaved;
  c.tied_embeddings = ck->shared_classifier;
  c.validate(path);
  m.tensors = ck->tensors;
  m.mapped.emplace_back(ck->map->data(), ck->map->size());
  m.keepalive.push_back(ck);
  std::string tok = opts.tokenizer.empty() ? llama2c_find_tokenizer(path) : opts.tokenizer;
  if (tok.empty())
    fail("{}: no tokenizer found beside the checkpoint (tokenizer.bin or a single tok*.bin); pass --tokenizer",
         path);
  m.vocab = llama2c_read_tokenizer(tok, ck->vocab_size);
  m.has_vocab = true;
  return m;
}

}  // namespace

std::string hf_to_gguf_name(const std::string& hf) { return map_tensor_name(hf, false); }
std::string gguf_to_hf_name(const std::string& gguf) { return map_tensor_name(gguf, true); }

std::vector<const TensorRef*> tensors_in_file_order(const ModelFile& m) {
  std::vector<const TensorRef*> order;
  for (const auto& t : m.tensors)
    if (parse_tensor_name(t.name).role == TensorRole::TokenEmbd) order.push_back(&t);
  for (int l = 0; l < m.config.n_layers; ++l)
    for (const auto& t : m.tensors)
      if (parse_tensor_name(t.name).layer == l) order.push_back(&t);
  for (const auto& t : m.tensors) {
    const TensorName tn = parse_tensor_name(t.name);
    if (tn.layer < 0 && tn.role != TensorRole::TokenEmbd) order.push_back(&t);
  }
  if (order.size() != m.tensors.size()) fail("{}: tensor names are not all understood", m.path);
  return order;
}

const char* model_format_name(ModelFormat f) {
  switch (f) {
    case ModelFormat::Gguf: return "gguf";
    case ModelFormat::HuggingFace: return "huggingface";
    case ModelFormat::Llama2c: return "llama2c";
  }
  return "?";
}

void ModelFile::release(const TensorRef& t) const {
  for (const auto& [p, n] : mapped)
    if (t.data >= p && t.data + t.nbytes <= p + n) {
      release_pages(t.data, t.nbytes);
      return;
    }
}

const TensorRef* ModelFile::find(const std::string& name) const {
  for (const auto& t : tensors)
    if (t.name == name) return &t;
  return nullptr;
}

const TensorRef& ModelFile::get(const std::string& name) const {
  const TensorRef* t = find(name);
  if (!t) fail("{}: tensor '{}' is missing", path, name);
  return *t;
}

ModelFile open_model(const std::string& path, const OpenOptions& opts) {
  std::error_code ec;
  if (!fs::exists(path, ec)) fail("{}: no such file or directory", path);
  ModelFile m;
  if (fs::is_directory(path, ec) || fs::path(path).extension() == ".safetensors" ||
      fs::path(path).filename() == "config.json") {
    m = open_hf(path);
  } else if (has_gguf_magic(path)) {
    m = open_gguf(path, opts);
  } else {
    m = open_llama2c(path, opts);
  }
  if (!m.tensors.empty()) check_model_tensors(m);
  if (m.has_vocab && !m.tensors.empty() && static_cast<int>(m.vocab.size()) > m.config.vocab_size)
    fail("{}: tokenizer has {} tokens but the model's vocabulary is {}", path, m.vocab.size(), m.config.vocab_size);
  return m;
}

void check_model_tensors(const ModelFile& m) {
  const ModelConfig& c = m.config;
  auto expect = [&](const std::string& name, std::vector<int64_t> ne) {
    const TensorRef& t = m.get(name);
    if (t.ne != ne) {
      std::string want, got;
      for (auto d : ne) want += (want.empty() ? "" : " x ") + std::to_string(d);
      for (auto d : t.ne) got += (got.empty() ? "" : " x ") + std::to_string(d);
      fail("{}: tensor '{}' has shape [{}], expected [{}] (ggml order, row length first)", m.path, name, got, want);
    }
  };
  expect("token_embd.weight", {c.dim, c.vocab_size});
  expect("output_norm.weight", {c.dim});
  if (!c.tied_embeddings) expect("output.weight", {c.dim, c.vocab_size});
  for (int l = 0; l < c.n_layers; ++l) {
    const std::string p = "blk." + std::to_string(l) + ".";
    expect(p + "attn_norm.weight", {c.dim});
    expect(p + "attn_q.weight", {c.dim, c.q_dim()});
    expect(p + "attn_k.weight", {c.dim, c.kv_dim()});
    expect(p + "attn_v.weight", {c.dim, c.kv_dim()});
    expect(p + "attn_output.weight", {c.q_dim(), c.dim});
    expect(p + "ffn_norm.weight", {c.dim});
    expect(p + "ffn_gate.weight", {c.dim, c.ffn_dim});
    expect(p + "ffn_up.weight", {c.dim, c.ffn_dim});
    expect(p + "ffn_down.weight", {c.ffn_dim, c.dim});
    if (c.qkv_bias) {
      expect(p + "attn_q.bias", {c.q_dim()});
      expect(p + "attn_k.bias", {c.kv_dim()});
      expect(p + "attn_v.bias", {c.kv_dim()});
    }
  }
}

}  // namespace lowbit
