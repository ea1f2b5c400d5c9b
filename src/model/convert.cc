#include "model/convert.h"

#include <chrono>
#include <cstring>

#include "core/error.h"
#include "core/half.h"
#include "core/progress.h"
#include "model/gguf_model.h"
#include "model/weights.h"

namespace lowbit {

void permute_rope_rows(const uint8_t* src, uint8_t* dst, int n_heads, int head_dim, size_t row_bytes) {
  const int half = head_dim / 2;
  for (int h = 0; h < n_heads; ++h)
    for (int i = 0; i < half; ++i)
      for (int j = 0; j < 2; ++j) {
        const size_t to = static_cast<size_t>(h) * head_dim + 2 * i + j;
        const size_t from = static_cast<size_t>(h) * head_dim + static_cast<size_t>(j) * half + i;
        std::memcpy(dst + to * row_bytes, src + from * row_bytes, row_bytes);
      }
}

namespace {

uint32_t file_type_for(GgmlType t) {
  switch (t) {
    case GgmlType::F32: return 0;
    case GgmlType::F16: return 1;
    case GgmlType::BF16: return 32;
    default: return 0;
  }
}

std::vector<uint8_t> encode(const float* x, uint64_t n, GgmlType type) {
  std::vector<uint8_t> out;
  switch (type) {
    case GgmlType::F32:
      out.resize(n * 4);
      std::memcpy(out.data(), x, n * 4);
      break;
    case GgmlType::F16:
      out.resize(n * 2);
      for (uint64_t i = 0; i < n; ++i) {
        const uint16_t h = f32_to_f16(x[i]);
        std::memcpy(&out[2 * i], &h, 2);
      }
      break;
    case GgmlType::BF16:
      out.resize(n * 2);
      for (uint64_t i = 0; i < n; ++i) {
        const uint16_t h = f32_to_bf16(x[i]);
        std::memcpy(&out[2 * i], &h, 2);
      }
      break;
    default: fail("convert: output type {} is not supported here", ggml_type_name(type));
  }
  return out;
}

}  // namespace

ConvertStats convert_to_gguf(const ModelFile& in, const std::string& out_path, GgmlType type, bool progress) {
  if (type != GgmlType::F32 && type != GgmlType::F16 && type != GgmlType::BF16)
    fail("convert: --type must be f32, f16 or bf16 (got {})", ggml_type_name(type));
  if (!in.has_vocab) fail("{}: model has no tokenizer; llama.cpp needs one in the GGUF", in.path);
  const auto t0 = std::chrono::steady_clock::now();
  ModelConfig cfg = in.config;
  const bool permute = cfg.rope_layout == RopeLayout::HalfSplit && cfg.arch == "llama";

  GgufFile g;
  if (in.format == ModelFormat::Gguf) g.kv = in.kv;
  config_to_gguf(cfg, g);
  vocab_to_gguf(in.vocab, g);
  g.set("general.file_type", GgufValue::make_u32(file_type_for(type)));
  g.erase("general.alignment");

  std::vector<std::vector<uint8_t>> buffers;
  buffers.reserve(in.tensors.size());
  ConvertStats st;
  Progress bar("convert", in.tensors.size(), progress);
  for (const TensorRef& t : in.tensors) {
    auto f32 = tensor_dequantize(t, in.path);
    const uint64_t n = t.n_elements();
    const GgmlType tt = t.ne.size() == 1 ? GgmlType::F32 : type;
    std::vector<uint8_t> bytes = encode(f32.get(), n, tt);
    const bool is_q = t.name.ends_with(".attn_q.weight"), is_k = t.name.ends_with(".attn_k.weight");
    if (permute && (is_q || is_k)) {
      std::vector<uint8_t> p(bytes.size());
      const size_t row_bytes = bytes.size() / static_cast<size_t>(t.rows());
      permute_rope_rows(bytes.data(), p.data(), is_q ? cfg.n_heads : cfg.n_kv_heads, cfg.head_dim, row_bytes);
      bytes.swap(p);
    }
    GgufTensorInfo ti;
    ti.name = t.name;
    ti.type = tt;
    ti.ne = t.ne;
    ti.nbytes = bytes.size();
    buffers.push_back(std::move(bytes));
    ti.data = buffers.back().data();
    st.n_params += n;
    st.bytes_written += ti.nbytes;
    g.tensors.push_back(std::move(ti));
    bar.add();
  }
  bar.finish();
  gguf_write(out_path, g);
  st.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  return st;
}

}  // namespace lowbit
