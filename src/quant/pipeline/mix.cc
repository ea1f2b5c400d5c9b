#include "quant/pipeline/mix.h"

#include <cctype>

#include "core/error.h"

namespace lowbit {
namespace {

using G = GgmlType;

bool iequals(const std::string& a, const char* b) {
  size_t i = 0;
  for (; i < a.size() && b[i]; ++i)
    if (std::toupper(static_cast<unsigned char>(a[i])) != std::toupper(static_cast<unsigned char>(b[i]))) return false;
  return i == a.size() && !b[i];
}

// llama.cpp's "use more bits" layers: the first and last eighth, and every third between.
bool use_more_bits(int i, int n) { return i < n / 8 || i >= 7 * n / 8 || (i - n / 8) % 3 == 2; }

bool is_float(G t) { return t == G::F32 || t == G::F16 || t == G::BF16; }

// The per-role bumps of llama_tensor_get_type for the presets lowbit offers.
G preset_type(const MixPreset& mix, TensorRole role, int layer, const ModelConfig& cfg, int64_t row_len,
              bool has_imatrix, bool tied) {
  const std::string p = mix.name;
  const int n = cfg.n_layers;
  const int gqa = cfg.n_heads / cfg.n_kv_heads;
  G t = mix.base;
  if (is_float(t)) return t;
  const bool is_output = role == TensorRole::Output || (tied && role == TensorRole::TokenEmbd);
  if (is_output) {
    if (row_len % ggml_traits(t).block_size != 0) return G::Q8_0;
    return t == G::Q8_0 ? t : G::Q6_K;
  }
  switch (role) {
    case TensorRole::TokenEmbd:
      if (t == G::TQ1_0 || t == G::TQ2_0) return G::Q4_K;
      return t;
    case TensorRole::AttnV:
      if (p == "Q2_K") return gqa >= 4 ? G::Q4_K : G::Q3_K;
      if (p == "Q2_K_S" && gqa >= 4) return G::Q4_K;
      if (p == "Q3_K_M") return layer < 2 ? G::Q5_K : G::Q4_K;
      if (p == "Q3_K_L") return G::Q5_K;
      if ((p == "IQ4_NL" || p == "IQ4_XS") && gqa >= 4) return G::Q5_K;
      if ((p == "Q4_K_M" || p == "Q5_K_M") && use_more_bits(layer, n)) return G::Q6_K;
      if (p == "Q4_K_S" && layer < 4) return G::Q5_K;
      return t;
    case TensorRole::FfnDown:
      if (p == "Q2_K") return G::Q3_K;
      if (p == "Q2_K_S") return layer < n / 8 ? G::Q4_K : t;
      if (p == "Q3_K_M") return layer < n / 16 ? G::Q5_K : G::Q4_K;
      if (p == "Q3_K_L") return G::Q5_K;
      if (p == "Q4_K_M") return use_more_bits(layer, n) ? G::Q6_K : t;
      if ((p == "IQ4_NL" || p == "IQ4_XS") && layer < n / 8 && !has_imatrix) return G::Q5_K;
      if (p == "Q5_K_M" && use_more_bits(layer, n)) return G::Q6_K;
      if (p == "Q4_K_S" && layer < n / 8) return G::Q5_K;
      if ((p == "Q4_0" || p == "Q5_0") && has_imatrix && layer < n / 8) return p == "Q4_0" ? G::Q4_1 : G::Q5_1;
      return t;
    case TensorRole::AttnOutput:
      if (p == "Q2_K") return G::Q3_K;
      if (p == "Q3_K_M") return G::Q4_K;
      if (p == "Q3_K_L") return G::Q5_K;
      return t;
    default: return t;
  }
}

}  // namespace

const std::vector<MixPreset>& mix_presets() {
  static const std::vector<MixPreset> k = {
      {"F32", G::F32, 0, "32-bit float, no quantization"},
      {"F16", G::F16, 1, "16-bit float"},
      {"BF16", G::BF16, 32, "bfloat16"},
      {"Q8_0", G::Q8_0, 7, "8-bit, blocks of 32"},
      {"Q6_K", G::Q6_K, 18, "6-bit K-quant"},
      {"Q5_K_M", G::Q5_K, 17, "5-bit K-quant; attn_v/ffn_down of more-bits layers Q6_K"},
      {"Q5_K_S", G::Q5_K, 16, "5-bit K-quant"},
      {"Q5_1", G::Q5_1, 9, "5-bit with min, blocks of 32"},
      {"Q5_0", G::Q5_0, 8, "5-bit, blocks of 32"},
      {"Q4_K_M", G::Q4_K, 15, "4-bit K-quant; attn_v/ffn_down of more-bits layers Q6_K"},
      {"Q4_K_S", G::Q4_K, 14, "4-bit K-quant; first layers' attn_v/ffn_down Q5_K"},
      {"Q4_1", G::Q4_1, 3, "4-bit with min, blocks of 32"},
      {"Q4_0", G::Q4_0, 2, "4-bit, blocks of 32"},
      {"IQ4_NL", G::IQ4_NL, 25, "4-bit non-linear grid, blocks of 32"},
      {"IQ4_XS", G::IQ4_XS, 30, "4.25-bit non-linear grid, super-blocks of 256"},
      {"Q3_K_L", G::Q3_K, 13, "3-bit K-quant; attn_v/ffn_down/attn_output Q5_K"},
      {"Q3_K_M", G::Q3_K, 12, "3-bit K-quant; attn_v/ffn_down/attn_output Q4_K/Q5_K"},
      {"Q3_K_S", G::Q3_K, 11, "3-bit K-quant"},
      {"Q2_K", G::Q2_K, 10, "2-bit K-quant; attn_v Q3_K/Q4_K, ffn_down/attn_output Q3_K"},
      {"Q2_K_S", G::Q2_K, 21, "2-bit K-quant, smaller"},
      {"TQ2_0", G::TQ2_0, 37, "ternary, 2.06 bpw (for ternary-trained models)"},
      {"TQ1_0", G::TQ1_0, 36, "ternary, 1.69 bpw (for ternary-trained models)"},
  };
  return k;
}

const MixPreset* find_mix(const std::string& name) {
  for (const auto& m : mix_presets())
    if (iequals(name, m.name)) return &m;
  // llama-quantize's aliases: a bare K type means its _M mix.
  for (const char* k : {"Q3_K", "Q4_K", "Q5_K"})
    if (iequals(name, k)) return find_mix(std::string(k) + "_M");
  return nullptr;
}

TypeOverride parse_override(const std::string& spec) {
  const size_t eq = spec.rfind('=');
  if (eq == std::string::npos || eq == 0 || eq + 1 == spec.size())
    fail("--tensor-type '{}': expected PATTERN=TYPE, e.g. ffn_down=q6_k", spec);
  TypeOverride o;
  o.pattern = spec.substr(0, eq);
  const std::string tname = spec.substr(eq + 1);
  auto t = ggml_type_from_name(tname);
  if (!t) fail("--tensor-type '{}': unknown type '{}'", spec, tname);
  o.type = *t;
  try {
    o.re = std::regex(o.pattern);
  } catch (const std::regex_error& e) {
    fail("--tensor-type '{}': bad pattern: {}", spec, e.what());
  }
  return o;
}

GgmlType fallback_type(GgmlType t, int64_t row_len) {
  auto fits = [&](G x) { return row_len % ggml_traits(x).block_size == 0; };
  if (fits(t)) return t;
  G f = G::F16;
  switch (t) {
    case G::Q2_K: case G::Q3_K: case G::IQ4_XS: case G::TQ1_0: case G::TQ2_0: f = G::IQ4_NL; break;
    case G::Q4_K: f = G::Q5_0; break;
    case G::Q5_K: f = G::Q5_1; break;
    case G::Q6_K: f = G::Q8_0; break;
    default: break;
  }
  return fits(f) ? f : G::F16;
}

TypeChoice choose_tensor_type(const MixPreset& mix, const std::string& name, const std::vector<int64_t>& ne,
                              const ModelConfig& cfg, bool has_imatrix, bool pure,
                              std::vector<TypeOverride>& overrides) {
  if (ne.size() < 2) return {G::F32, ""};
  const TensorName tn = parse_tensor_name(name);
  TypeChoice c{pure ? mix.base : preset_type(mix, tn.role, tn.layer, cfg, ne[0], has_imatrix, cfg.tied_embeddings), ""};
  if (c.type != mix.base) c.reason = fmt::format("{} rule of {}", tensor_role_name(tn.role), mix.name);
  for (auto& o : overrides)
    if (std::regex_search(name, o.re)) {
      ++o.matched;
      c.type = o.type;
      c.reason = fmt::format("--tensor-type {}={}", o.pattern, ggml_type_name(o.type));
    }
  const G f = fallback_type(c.type, ne[0]);
  if (f != c.type) {
    c.reason = fmt::format("{}{}row length {} is not a multiple of {}'s block of {}: fell back to {}", c.reason,
                           c.reason.empty() ? "" : "; ", ne[0], ggml_type_name(c.type), ggml_traits(c.type).block_size,
                           ggml_type_name(f));
    c.type = f;
  }
  return c;
}

}  // namespace lowbit
