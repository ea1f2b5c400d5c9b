#include "formats/hf/hf_gptq.h"

#include <filesystem>

#include "core/error.h"
#include "core/half.h"
#include "formats/hf/hf_json.h"

namespace lowbit {
namespace {

namespace fs = std::filesystem;

constexpr uint64_t kMaxConfigBytes = 16ull << 20;

bool bits_supported(int64_t b) { return b == 2 || b == 3 || b == 4 || b == 8; }

// `q` is the quantization_config object of file f; `prefix` names it in errors.
HfGptqConfig parse(const HfJson& f, const nlohmann::json& q, const std::string& prefix, bool method_required) {
  const auto field = [&](const char* k) { return prefix + k; };
  HfGptqConfig c;
  if (const auto* m = HfJson::find(q, "quant_method")) {
    const std::string& method = f.as_string(*m, field("quant_method"));
    if (method != "gptq")
      f.fail_field(field("quant_method"), fmt::format("\"{}\" is not supported (lowbit loads GPTQ checkpoints: \"gptq\")",
                                                      hf_printable(method, 40)));
  } else if (method_required) {
    f.fail_field(field("quant_method"), "missing");
  }
  const auto* bits = HfJson::find(q, "bits");
  if (!bits) f.fail_field(field("bits"), "missing");
  c.bits = static_cast<int>(f.as_int(*bits, field("bits"), 1, 65));
  if (!bits_supported(c.bits)) f.fail_field(field("bits"), fmt::format("{} is not one of 2, 3, 4, 8", c.bits));
  if (const auto* g = HfJson::find(q, "group_size")) {
    c.group_size = static_cast<int>(f.as_int(*g, field("group_size"), -1, int64_t{1} << 30));
    if (c.group_size == 0) f.fail_field(field("group_size"), "0 (use -1 for one group per output channel)");
  }
  const auto get_bool = [&](const char* k, bool dflt) {
    const auto* v = HfJson::find(q, k);
    return v ? f.as_bool(*v, field(k)) : dflt;
  };
  c.desc_act = get_bool("desc_act", false);
  c.sym = get_bool("sym", true);
  c.static_groups = get_bool("static_groups", false);
  c.true_sequential = get_bool("true_sequential", true);
  c.lm_head = get_bool("lm_head", false);
  if (const auto* d = HfJson::find(q, "damp_percent")) c.damp_percent = f.as_number(*d, field("damp_percent"));
  if (const auto* cf = HfJson::find(q, "checkpoint_format")) {
    const std::string& fmt_name = f.as_string(*cf, field("checkpoint_format"));
    if (fmt_name == "gptq_v2") c.v2 = true;
    else if (fmt_name != "gptq")
      f.fail_field(field("checkpoint_format"),
                   fmt::format("\"{}\" is not supported (lowbit reads \"gptq\" and \"gptq_v2\")", hf_printable(fmt_name, 40)));
  }
  return c;
}

uint32_t load_u32(const uint8_t* p) {
  return static_cast<uint32_t>(p[0]) | static_cast<uint32_t>(p[1]) << 8 | static_cast<uint32_t>(p[2]) << 16 |
         static_cast<uint32_t>(p[3]) << 24;
}

std::string shape_str(const std::vector<int64_t>& s) {
  std::string r;
  for (int64_t d : s) r += (r.empty() ? "" : ", ") + std::to_string(d);
  return "[" + r + "]";
}

}  // namespace

nlohmann::ordered_json hf_gptq_config_json(const HfGptqConfig& c) {
  return {{"quant_method", "gptq"},
          {"bits", c.bits},
          {"group_size", c.group_size},
          {"desc_act", c.desc_act},
          {"sym", c.sym},
          {"static_groups", c.static_groups},
          {"true_sequential", c.true_sequential},
          {"damp_percent", c.damp_percent},
          {"lm_head", c.lm_head},
          {"model_file_base_name", "model"},
          {"checkpoint_format", c.v2 ? "gptq_v2" : "gptq"}};
}

std::optional<HfGptqConfig> hf_gptq_config_read(const std::string& dir) {
  std::error_code ec;
  const fs::path cfg = fs::path(dir) / "config.json";
  if (fs::is_regular_file(cfg, ec)) {
    const HfJson f(cfg.string(), kMaxConfigBytes);
    if (const auto* q = HfJson::find(f.root(), "quantization_config"))
      return parse(f, f.as_object(*q, "quantization_config"), "quantization_config.", true);
  }
  const fs::path qc = fs::path(dir) / "quantize_config.json";   // older AutoGPTQ exports
  if (fs::is_regular_file(qc, ec)) {
    const HfJson f(qc.string(), kMaxConfigBytes);
    return parse(f, f.as_object(f.root(), "(top level)"), "", false);
  }
  return std::nullopt;
}

void gptq_check_shape(const std::string& what, int bits, int64_t in, int64_t out) {
  if (!bits_supported(bits)) fail("{}: {} bits: the GPTQ layout packs 2, 3, 4 or 8 bits", what, bits);
  if (in <= 0 || out <= 0) fail("{}: empty layer ({} inputs, {} outputs)", what, in, out);
  if (in * bits % 32)
    fail("{}: {} inputs x {} bits is not a whole number of 32-bit qweight words (inputs must be a multiple of {})", what,
         in, bits, bits == 3 ? 32 : 32 / bits);
  if (out * bits % 32)
    fail("{}: {} outputs x {} bits is not a whole number of 32-bit qzeros words (outputs must be a multiple of {})",
         what, out, bits, bits == 3 ? 32 : 32 / bits);
}

void gptq_pack_bits(const uint32_t* values, int64_t n, int bits, uint32_t* words) {
  const int64_t nw = n * bits / 32;
  for (int64_t w = 0; w < nw; ++w) words[w] = 0;
  for (int64_t k = 0; k < n; ++k) {
    const int64_t pos = k * bits, w = pos / 32;
    const int off = static_cast<int>(pos % 32);
    words[w] |= values[k] << off;
    if (off + bits > 32) words[w + 1] |= values[k] >> (32 - off);   // the 3-bit straddle
  }
}

void gptq_unpack_bits(const uint32_t* words, int64_t n, int bits, uint32_t* values) {
  const uint32_t mask = (1u << bits) - 1;
  for (int64_t k = 0; k < n; ++k) {
    const int64_t pos = k * bits, w = pos / 32;
    const int off = static_cast<int>(pos % 32);
    uint32_t v = words[w] >> off;
    if (off + bits > 32) v |= words[w + 1] << (32 - off);
    values[k] = v & mask;
  }
}

GptqPacked gptq_pack(const GptqLinear& l, const std::string& what) {
  gptq_check_shape(what, l.bits, l.in, l.out);
  const int64_t in = l.in, out = l.out, G = l.n_groups;
  if (G <= 0) fail("{}: {} groups", what, G);
  if (static_cast<int64_t>(l.codes.size()) != in * out || static_cast<int64_t>(l.zeros.size()) != G * out ||
      static_cast<int64_t>(l.scales.size()) != G * out || static_cast<int64_t>(l.g_idx.size()) != in)
    fail("{}: {} codes, {} zeros, {} scales, {} g_idx for {} x {} with {} groups", what, l.codes.size(), l.zeros.size(),
         l.scales.size(), l.g_idx.size(), out, in, G);
  const uint32_t maxv = (1u << l.bits) - 1;
  for (int64_t i = 0; i < in; ++i)
    if (l.g_idx[i] < 0 || l.g_idx[i] >= G) fail("{}: g_idx[{}] = {} is outside [0, {})", what, i, l.g_idx[i], G);
  GptqPacked p;
  p.g_idx = l.g_idx;
  p.scales = l.scales;
  const int64_t in_words = in * l.bits / 32, out_words = out * l.bits / 32;
  p.qweight.resize(static_cast<size_t>(in_words * out));
  std::vector<uint32_t> vals(static_cast<size_t>(std::max(in, out))), words(static_cast<size_t>(std::max(in_words, out_words)));
  for (int64_t o = 0; o < out; ++o) {   // column o of qweight: row o of W along the input dim
    for (int64_t i = 0; i < in; ++i) {
      vals[i] = l.codes[static_cast<size_t>(o * in + i)];
      if (vals[i] > maxv) fail("{}: code {} at output {}, input {} does not fit {} bits", what, vals[i], o, i, l.bits);
    }
    gptq_pack_bits(vals.data(), in, l.bits, words.data());
    for (int64_t w = 0; w < in_words; ++w) p.qweight[static_cast<size_t>(w * out + o)] = static_cast<int32_t>(words[w]);
  }
  p.qzeros.resize(static_cast<size_t>(G * out_words));
  for (int64_t g = 0; g < G; ++g) {
    for (int64_t o = 0; o < out; ++o) {
      const int32_t z = l.zeros[static_cast<size_t>(g * out + o)];
      if (z < 1 || static_cast<uint32_t>(z) > maxv)
        fail("{}: zero point {} (group {}, output {}) cannot be stored in GPTQ v1 (which stores zero - 1 in {} bits: "
             "zero must be in [1, {}])", what, z, g, o, l.bits, maxv);
      vals[o] = static_cast<uint32_t>(z - 1);
    }
    gptq_pack_bits(vals.data(), out, l.bits, reinterpret_cast<uint32_t*>(&p.qzeros[static_cast<size_t>(g * out_words)]));
  }
  return p;
}

GptqLinear gptq_unpack(const std::string& what, const GptqTensorView& qweight, const GptqTensorView& qzeros,
                       const GptqTensorView& scales, const GptqTensorView& g_idx, const HfGptqConfig& cfg) {
  const auto check = [&](const char* part, const GptqTensorView& t, const char* dtype, size_t rank) {
    if (t.dtype != dtype) fail("{}.{}: dtype {}, expected {}", what, part, t.dtype, dtype);
    if (t.shape.size() != rank) fail("{}.{}: shape {} has {} dimensions, expected {}", what, part, shape_str(t.shape), t.shape.size(), rank);
    for (int64_t d : t.shape)
      if (d <= 0 || d > (int64_t{1} << 31)) fail("{}.{}: shape {} has an empty or absurd dimension", what, part, shape_str(t.shape));
  };
  check("qweight", qweight, "I32", 2);
  check("qzeros", qzeros, "I32", 2);
  check("scales", scales, "F16", 2);
  GptqLinear l;
  l.bits = cfg.bits;
  l.out = qweight.shape[1];
  l.in = qweight.shape[0] * 32 / cfg.bits;
  if (qweight.shape[0] * 32 % cfg.bits)
    fail("{}.qweight: {} words per output are not a whole number of {}-bit codes", what, qweight.shape[0], cfg.bits);
  l.n_groups = scales.shape[0];
  gptq_check_shape(what, cfg.bits, l.in, l.out);
  const int64_t out_words = l.out * cfg.bits / 32;
  if (scales.shape[1] != l.out)
    fail("{}.scales: shape {}, but qweight {} has {} outputs", what, shape_str(scales.shape), shape_str(qweight.shape), l.out);
  if (qzeros.shape != std::vector<int64_t>{l.n_groups, out_words})
    fail("{}.qzeros: shape {}, expected [{}, {}] for {} groups of {} outputs at {} bits", what, shape_str(qzeros.shape),
         l.n_groups, out_words, l.n_groups, l.out, cfg.bits);
  l.g_idx.resize(static_cast<size_t>(l.in));
  if (g_idx.data) {
    check("g_idx", g_idx, "I32", 1);
    if (g_idx.shape[0] != l.in) fail("{}.g_idx: {} entries for {} inputs", what, g_idx.shape[0], l.in);
    for (int64_t i = 0; i < l.in; ++i) {
      const int32_t g = static_cast<int32_t>(load_u32(g_idx.data + 4 * i));
      if (g < 0 || g >= l.n_groups) fail("{}.g_idx: entry {} is {}, outside [0, {}) (the scales' groups)", what, i, g, l.n_groups);
      l.g_idx[static_cast<size_t>(i)] = g;
    }
  } else {
    const int64_t gs = cfg.group_size > 0 ? cfg.group_size : l.in;
    if ((l.in + gs - 1) / gs != l.n_groups)
      fail("{}.scales: {} groups, but {} inputs in groups of {} make {} (and there is no g_idx)", what, l.n_groups, l.in, gs,
           (l.in + gs - 1) / gs);
    for (int64_t i = 0; i < l.in; ++i) l.g_idx[static_cast<size_t>(i)] = static_cast<int32_t>(i / gs);
  }

  std::vector<uint32_t> words(static_cast<size_t>(qweight.shape[0])), vals(static_cast<size_t>(std::max(l.in, l.out)));
  l.codes.resize(static_cast<size_t>(l.in * l.out));
  for (int64_t o = 0; o < l.out; ++o) {
    for (int64_t w = 0; w < qweight.shape[0]; ++w) words[w] = load_u32(qweight.data + 4 * (w * l.out + o));
    gptq_unpack_bits(words.data(), l.in, l.bits, vals.data());
    for (int64_t i = 0; i < l.in; ++i) l.codes[static_cast<size_t>(o * l.in + i)] = static_cast<uint8_t>(vals[i]);
  }
  l.zeros.resize(static_cast<size_t>(l.n_groups * l.out));
  l.scales.resize(l.zeros.size());
  words.resize(static_cast<size_t>(out_words));
  for (int64_t g = 0; g < l.n_groups; ++g) {
    for (int64_t w = 0; w < out_words; ++w) words[w] = load_u32(qzeros.data + 4 * (g * out_words + w));
    gptq_unpack_bits(words.data(), l.out, l.bits, vals.data());
    for (int64_t o = 0; o < l.out; ++o) {
      // v1 loaders add the 1 back without masking: a stored 2^b − 1 means z = 2^b.
      l.zeros[static_cast<size_t>(g * l.out + o)] = static_cast<int32_t>(vals[o]) + (cfg.v2 ? 0 : 1);
      const uint8_t* s = scales.data + 2 * (g * l.out + o);
      const uint16_t h = static_cast<uint16_t>(s[0] | s[1] << 8);
      if ((h & 0x7c00) == 0x7c00) fail("{}.scales: group {}, output {} is {} (not finite)", what, g, o, f16_to_f32(h));
      l.scales[static_cast<size_t>(g * l.out + o)] = h;
    }
  }
  return l;
}

void gptq_dequantize(const GptqLinear& l, float* W) {
  std::vector<float> scale(l.scales.size());
  for (size_t k = 0; k < scale.size(); ++k) scale[k] = f16_to_f32(l.scales[k]);
#pragma omp parallel for schedule(static) if (l.in * l.out >= (1 << 16))
  for (int64_t o = 0; o < l.out; ++o)
    for (int64_t i = 0; i < l.in; ++i) {
      const size_t gi = static_cast<size_t>(l.g_idx[static_cast<size_t>(i)] * l.out + o);
      W[o * l.in + i] = scale[gi] * static_cast<float>(static_cast<int32_t>(l.codes[static_cast<size_t>(o * l.in + i)]) - l.zeros[gi]);
    }
}

}  // namespace lowbit
