#include "model/weights.h"

#include <cmath>
#include <cstdlib>
#include <cstring>

#include "core/error.h"
#include "core/half.h"
#include "kernels/qdot.h"
#include "kernels/repack.h"
#include "model/w8a8.h"
#include "quant/codecs/codec.h"

namespace lowbit {
namespace {

void check_finite(const float* x, uint64_t n, const TensorRef& t, const std::string& source) {
  for (uint64_t i = 0; i < n; ++i)
    if (!std::isfinite(x[i])) fail("{}: tensor '{}' has a non-finite value ({}) at element {}", source, t.name, x[i], i);
}

// NaN/Inf scan of a float tensor in place (no copy): a non-finite value has an all-ones
// exponent in every float format.
void check_float_tensor(const TensorRef& t, const std::string& source) {
  const uint64_t n = t.n_elements();
  for (uint64_t i = 0; i < n; ++i) {
    bool bad;
    if (t.type == GgmlType::F32) {
      uint32_t u;
      std::memcpy(&u, t.data + 4 * i, 4);
      bad = (u & 0x7f800000u) == 0x7f800000u;
    } else {
      uint16_t h;
      std::memcpy(&h, t.data + 2 * i, 2);
      bad = t.type == GgmlType::F16 ? (h & 0x7c00) == 0x7c00 : (h & 0x7f80) == 0x7f80;
    }
    if (bad) fail("{}: tensor '{}' has a non-finite value at element {}", source, t.name, i);
  }
}

}  // namespace

std::unique_ptr<float[]> tensor_to_f32(const TensorRef& t, const std::string& source) {
  if (t.type != GgmlType::F32 && t.type != GgmlType::F16 && t.type != GgmlType::BF16)
    fail("{}: tensor '{}' has type {}; a float type was expected", source, t.name, ggml_type_name(t.type));
  return tensor_dequantize(t, source);
}

std::unique_ptr<float[]> tensor_dequantize(const TensorRef& t, const std::string& source) {
  const uint64_t n = t.n_elements();
  auto out = std::make_unique<float[]>(n);
  if (t.type == GgmlType::F32) {
    std::memcpy(out.get(), t.data, n * 4);
  } else {
    const QuantCodec* c = codec_for(t.type);
    if (!c || !c->dequantize_row) fail("{}: tensor '{}' has type {}, which lowbit cannot read", source, t.name, ggml_type_name(t.type));
    const int64_t row = t.ne.empty() ? 1 : t.ne[0];
    dequantize_tensor(t.type, t.data, out.get(), static_cast<int64_t>(n / row), row);
  }
  check_finite(out.get(), n, t, source);
  return out;
}

LlamaWeights LlamaWeights::load(const ModelFile& m) {
  LlamaWeights w;
  auto vec = [&](const std::string& name) -> const float* {
    w.owned.push_back(tensor_dequantize(m.get(name), m.path));
    return w.owned.back().get();
  };
  auto mat = [&](const std::string& name) -> QMatrix {
    const TensorRef& t = m.get(name);
    if (t.type == GgmlType::I8) return load_w8a8_matrix(m, t, w.owned);   // lowbit W8A8 (model/w8a8.h)
    QMatrix q{t.type, t.data, t.ne[0], t.ne[1], 0};
    ggml_row_bytes(t.type, static_cast<uint64_t>(t.ne[0]), &q.row_bytes);  // shape checked at open
    if (t.type == GgmlType::F32 || t.type == GgmlType::F16 || t.type == GgmlType::BF16) {
      // Float weights are scanned for NaN/Inf once (quantized files were checked when written);
      // the scan's pages are dropped again so the resident set grows only with use.
      check_float_tensor(t, m.path);
      m.release(t);
    }
    if (t.type != GgmlType::F32 && !find_qdot(t.type, Isa::Avx512))
      fail("{}: tensor '{}' has type {}, which lowbit cannot run yet", m.path, name, ggml_type_name(t.type));
    return q;
  };
  // Matrices only multiplied (not token_embd, whose rows embed() reads) go interleaved.
  auto repacked = [&](const std::string& name) -> QMatrix {
    QMatrix q = mat(name);
    if (q.type == GgmlType::I8 || !repack_wanted(q.type, q.in)) return q;
    const uint64_t bytes = repacked_bytes(q.row_bytes, q.out);
    auto* p = static_cast<uint8_t*>(std::aligned_alloc(64, (bytes + 63) / 64 * 64));
    if (!p) fail("{}: cannot allocate {} MiB to repack tensor '{}'", m.path, bytes >> 20, name);
    w.repacked.emplace_back(p);
    repack_rows(q, p);
    m.release(m.get(name));
    q.data = p;
    q.layout = WeightLayout::Interleaved16;
    return q;
  };
  const ModelConfig& c = m.config;
  w.token_embd = mat("token_embd.weight");
  if (w.token_embd.type == GgmlType::I8) fail("{}: token_embd.weight is I8; W8A8 applies to the block linears only", m.path);
  w.output_norm = vec("output_norm.weight");
  w.output = c.tied_embeddings ? w.token_embd : repacked("output.weight");
  for (int l = 0; l < c.n_layers; ++l) {
    const std::string p = "blk." + std::to_string(l) + ".";
    LayerWeights L{};
    L.attn_norm = vec(p + "attn_norm.weight");
    L.wq = repacked(p + "attn_q.weight");
    L.wk = repacked(p + "attn_k.weight");
    L.wv = repacked(p + "attn_v.weight");
    L.wo = repacked(p + "attn_output.weight");
    if (c.qkv_bias) {
      L.bq = vec(p + "attn_q.bias");
      L.bk = vec(p + "attn_k.bias");
      L.bv = vec(p + "attn_v.bias");
    }
    L.ffn_norm = vec(p + "ffn_norm.weight");
    L.w_gate = repacked(p + "ffn_gate.weight");
    L.w_up = repacked(p + "ffn_up.weight");
    L.w_down = repacked(p + "ffn_down.weight");
    w.layers.push_back(L);
  }
  return w;
}

void LlamaWeights::embed(int32_t token, float* out) const {
  const uint8_t* row = token_embd.data + static_cast<uint64_t>(token) * token_embd.row_bytes;
  if (token_embd.type == GgmlType::F32) std::memcpy(out, row, token_embd.in * 4);
  else codec_for(token_embd.type)->dequantize_row(row, out, token_embd.in);
}

void LlamaWeights::FreeDeleter::operator()(uint8_t* p) const { std::free(p); }

uint64_t LlamaWeights::matrix_bytes() const {
  auto bytes = [](const QMatrix& q) {
    return q.layout == WeightLayout::Interleaved16 ? repacked_bytes(q.row_bytes, q.out) : q.row_bytes * q.out;
  };
  uint64_t b = bytes(output);
  for (const auto& L : layers)
    for (const QMatrix* q : {&L.wq, &L.wk, &L.wv, &L.wo, &L.w_gate, &L.w_up, &L.w_down}) b += bytes(*q);
  return b;
}

}  // namespace lowbit
