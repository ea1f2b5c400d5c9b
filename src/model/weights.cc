#include "model/weights.h"

#include <cmath>
#include <cstring>

#include "core/error.h"
#include "core/half.h"

namespace lowbit {

std::unique_ptr<float[]> tensor_to_f32(const TensorRef& t, const std::string& source) {
  const uint64_t n = t.n_elements();
  auto out = std::make_unique<float[]>(n);
  switch (t.type) {
    case GgmlType::F32: std::memcpy(out.get(), t.data, n * 4); break;
    case GgmlType::F16:
      for (uint64_t i = 0; i < n; ++i) {
        uint16_t h;
        std::memcpy(&h, t.data + 2 * i, 2);
        out[i] = f16_to_f32(h);
      }
      break;
    case GgmlType::BF16:
      for (uint64_t i = 0; i < n; ++i) {
        uint16_t h;
        std::memcpy(&h, t.data + 2 * i, 2);
        out[i] = bf16_to_f32(h);
      }
      break;
    default:
      fail("{}: tensor '{}' has type {}, which the fp32 forward pass cannot use", source, t.name,
           ggml_type_name(t.type));
  }
  for (uint64_t i = 0; i < n; ++i)
    if (!std::isfinite(out[i]))
      fail("{}: tensor '{}' has a non-finite value ({}) at element {}", source, t.name, out[i], i);
  return out;
}

LlamaWeights LlamaWeights::load(const ModelFile& m) {
  LlamaWeights w;
  auto get = [&](const std::string& name) -> const float* {
    w.owned.push_back(tensor_to_f32(m.get(name), m.path));
    return w.owned.back().get();
  };
  const ModelConfig& c = m.config;
  w.token_embd = get("token_embd.weight");
  w.output_norm = get("output_norm.weight");
  w.output = c.tied_embeddings ? w.token_embd : get("output.weight");
  for (int l = 0; l < c.n_layers; ++l) {
    const std::string p = "blk." + std::to_string(l) + ".";
    LayerWeights L{};
    L.attn_norm = get(p + "attn_norm.weight");
    L.wq = get(p + "attn_q.weight");
    L.wk = get(p + "attn_k.weight");
    L.wv = get(p + "attn_v.weight");
    L.wo = get(p + "attn_output.weight");
    if (c.qkv_bias) {
      L.bq = get(p + "attn_q.bias");
      L.bk = get(p + "attn_k.bias");
      L.bv = get(p + "attn_v.bias");
    }
    L.ffn_norm = get(p + "ffn_norm.weight");
    L.w_gate = get(p + "ffn_gate.weight");
    L.w_up = get(p + "ffn_up.weight");
    L.w_down = get(p + "ffn_down.weight");
    w.layers.push_back(L);
  }
  return w;
}

}  // namespace lowbit
