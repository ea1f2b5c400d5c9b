// The Hugging Face GPTQ export: GPTQ's (and RTN's) quantized weights survive
// pack -> file -> unpack -> dequantize bit for bit; a whole export read back through
// open_model holds exactly the tensors the exporter held in memory (q/k rows back in HF order
// from an interleaved GGUF source), and runs to the same logits.
#include "quant/pipeline/export_hf_gptq.h"

#include <cmath>
#include <filesystem>
#include <fstream>
#include <map>
#include <random>

#include <gtest/gtest.h>

#include "core/error.h"
#include "core/half.h"
#include "core/temp_dir_testing.h"
#include "formats/safetensors/safetensors.h"
#include "model/llama.h"
#include "model/tensor_role.h"
#include "model/weights.h"
#include "quant/methods/gptq.h"
#include "quant/methods/hessian.h"
#include "quant/pipeline/synth.h"

namespace lowbit {
namespace {

namespace fs = std::filesystem;

using Dir = testing::TempDir;

TEST(HfGptqExport, GptqWeightsSurvivePackingBitForBit) {
  const int64_t rows = 32, cols = 128, n = 512;
  std::mt19937 rng(7);
  std::normal_distribution<float> N(0.0f, 1.0f);
  std::vector<float> W(rows * cols), X(n * cols);
  for (auto& w : W) w = 0.02f * N(rng);
  for (int64_t t = 0; t < n; ++t)
    for (int64_t c = 0; c < cols; ++c) X[t * cols + c] = N(rng) * (1.0f + static_cast<float>(c % 7));   // uneven columns
  HessianAccumulator acc(cols);
  acc.add(X.data(), n);
  const std::vector<float> H = acc.finalize();
  for (int bits : {2, 3, 4, 8})
    for (bool sym : {true, false})
      for (int64_t gs : {int64_t{32}, int64_t{-1}}) {
        QuantScheme s = gs > 0 ? QuantScheme::per_group(bits, gs, sym) : QuantScheme::per_channel(bits, sym);
        s.f16_scale = true;
        s.zero_at_least_one = !sym;
        GptqOptions go;
        go.act_order = true;
        const GptqAffineResult r = gptq_quantize_affine(W.data(), rows, cols, H.data(), s, go);
        bool permuted = false;
        for (int64_t c = 0; c < cols; ++c) permuted = permuted || r.report.perm[c] != c;
        EXPECT_TRUE(permuted) << "act-order did not reorder the columns";
        for (int64_t c = 0; c < cols; ++c) ASSERT_EQ(r.g_idx[c], gs > 0 ? c / gs : 0);   // static groups

        const GptqLinear l = gptq_linear_from(r.tensor, r.g_idx, "t");
        if (sym) {
          for (int32_t z : l.zeros) ASSERT_EQ(z, 1 << (bits - 1));   // GPTQ's symmetric zero
        }
        const GptqPacked p = gptq_pack(l, "t");
        const int64_t G = l.n_groups;
        const GptqTensorView qw{reinterpret_cast<const uint8_t*>(p.qweight.data()), "I32", {cols * bits / 32, rows}};
        const GptqTensorView qz{reinterpret_cast<const uint8_t*>(p.qzeros.data()), "I32", {G, rows * bits / 32}};
        const GptqTensorView sc{reinterpret_cast<const uint8_t*>(p.scales.data()), "F16", {G, rows}};
        const GptqTensorView gi{reinterpret_cast<const uint8_t*>(p.g_idx.data()), "I32", {cols}};
        HfGptqConfig cfg;
        cfg.bits = bits;
        cfg.group_size = static_cast<int>(gs);
        const GptqLinear back = gptq_unpack("t", qw, qz, sc, gi, cfg);
        std::vector<float> Wb(rows * cols);
        gptq_dequantize(back, Wb.data());
        for (int64_t k = 0; k < rows * cols; ++k)
          ASSERT_EQ(Wb[k], r.weights[k]) << bits << (sym ? " sym" : " asym") << " g" << gs << " element " << k;
      }
}

// Every tensor the exporter reported, by GGUF name, fp32 in the source's layout.
using Held = std::map<std::string, std::vector<float>>;

HfGptqExportOptions collecting(Held& held, int bits, int gs, bool sym) {
  HfGptqExportOptions ho;
  ho.bits = bits;
  ho.group_size = gs;
  ho.sym = sym;
  ho.on_tensor = [&held](const std::string& name, const std::vector<int64_t>& ne, const float* v) {
    uint64_t n = 1;
    for (auto d : ne) n *= static_cast<uint64_t>(d);
    held[name].assign(v, v + n);
  };
  return ho;
}

// The source with every tensor replaced by the exporter's values: the model in memory. The
// unquantized tensors stay F16 as in the file (the vocabulary projection then runs on F16
// weights with F16 activations in both models).
ModelFile in_memory(const ModelFile& src, const Held& held, std::vector<std::vector<uint16_t>>& f16) {
  ModelFile m = src;
  for (TensorRef& t : m.tensors) {
    const auto& v = held.at(t.name);
    const TensorRole r = parse_tensor_name(t.name).role;
    const bool linear = r == TensorRole::AttnQ || r == TensorRole::AttnK || r == TensorRole::AttnV ||
                        r == TensorRole::AttnOutput || r == TensorRole::FfnGate || r == TensorRole::FfnUp ||
                        r == TensorRole::FfnDown;
    if (linear) {
      t.type = GgmlType::F32;
      t.data = reinterpret_cast<const uint8_t*>(v.data());
      t.nbytes = v.size() * sizeof(float);
    } else {
      auto& h = f16.emplace_back(v.size());
      for (size_t k = 0; k < v.size(); ++k) h[k] = f32_to_f16(v[k]);
      t.type = GgmlType::F16;
      t.data = reinterpret_cast<const uint8_t*>(h.data());
      t.nbytes = h.size() * 2;
    }
  }
  return m;
}

// The read-back directory's tensors equal the held ones exactly (q/k rows mapped from HF's
// half-split order to the source's interleaved one), and both models give the same logits.
void expect_same_model(const ModelFile& src, const std::string& dir, const Held& held) {
  const ModelFile back = open_model(dir);
  EXPECT_EQ(back.config.rope_layout, RopeLayout::HalfSplit);
  EXPECT_EQ(back.config.dim, src.config.dim);
  EXPECT_EQ(back.config.n_kv_heads, src.config.n_kv_heads);
  ASSERT_EQ(back.tensors.size(), src.tensors.size());
  for (const TensorRef& t : back.tensors) {
    auto x = tensor_dequantize(t, dir);
    const TensorRole r = parse_tensor_name(t.name).role;
    if (r == TensorRole::AttnQ || r == TensorRole::AttnK) {
      auto p = std::make_unique<float[]>(t.n_elements());
      permute_rope_rows(reinterpret_cast<const uint8_t*>(x.get()), reinterpret_cast<uint8_t*>(p.get()),
                        r == TensorRole::AttnQ ? src.config.n_heads : src.config.n_kv_heads, src.config.head_dim,
                        t.ne[0] * sizeof(float));
      x = std::move(p);
    }
    const auto& want = held.at(t.name);
    ASSERT_EQ(t.n_elements(), want.size()) << t.name;
    for (size_t k = 0; k < want.size(); ++k) ASSERT_EQ(x[k], want[k]) << t.name << " element " << k;
  }
  std::vector<std::vector<uint16_t>> f16;
  const ModelFile mem = in_memory(src, held, f16);
  std::vector<int32_t> tokens;
  for (int i = 0; i < 24; ++i) tokens.push_back(1 + (i * 37) % (src.config.vocab_size - 1));
  LlamaModel a(mem, 32), b(back, 32);
  std::vector<float> la, lb;
  a.eval(tokens, true, la);
  b.eval(tokens, true, lb);
  ASSERT_EQ(la.size(), lb.size());
  double worst = 0, scale = 0;
  for (size_t k = 0; k < la.size(); ++k) {
    worst = std::max(worst, std::fabs(static_cast<double>(la[k]) - lb[k]));
    scale = std::max(scale, std::fabs(static_cast<double>(la[k])));
  }
  // Equal weights; RoPE pairs the dimensions differently (interleaved vs half-split), which
  // only reorders float sums — but the attention sums q·k in llama.cpp's sequential float order
  // (kernels/ggml_math.h), so the two layouts differ in last bits, which the 8-bit activation
  // rounding of the next layers can amplify a little (measured ≤ 9e-5 of the largest logit).
  EXPECT_LE(worst, 5e-4 * scale) << "interleaved in-memory model vs half-split read-back; max |logit| " << scale;
}

struct TinySource {
  Dir dir;
  ModelFile m;
  TinySource() {
    SynthOptions so;
    so.preset = "tiny";
    so.mix = "F32";
    so.progress = false;
    synthesize_model(dir.file("tiny.gguf"), so);
    m = open_model(dir.file("tiny.gguf"));
  }
};

TEST(HfGptqExport, RtnFromAnInterleavedGgufReadsBackExactly) {
  TinySource src;
  Held held;
  QuantizeOptions qo;
  qo.method = QuantMethod::Rtn;
  qo.progress = false;
  const std::string out = src.dir.file("rtn");
  const HfGptqExportReport rep = export_hf_gptq(src.m, out, qo, collecting(held, 4, 64, false));
  EXPECT_FALSE(rep.tokenizer);   // a GGUF source has no tokenizer files to copy
  EXPECT_TRUE(fs::exists(out + "/config.json") && fs::exists(out + "/quantize_config.json"));
  EXPECT_GT(rep.linear_bits_per_weight, 4.0);
  EXPECT_LT(rep.linear_bits_per_weight, 4.6);
  const SafetensorsFile st = safetensors_read(out + "/model.safetensors");
  const SafetensorsTensor* qw = st.find("model.layers.1.self_attn.k_proj.qweight");
  ASSERT_TRUE(qw);
  EXPECT_EQ(qw->dtype, "I32");
  EXPECT_EQ(qw->shape, (std::vector<int64_t>{256 * 4 / 32, 128}));   // [in·bits/32, out]
  ASSERT_TRUE(st.find("model.embed_tokens.weight"));
  EXPECT_EQ(st.find("model.embed_tokens.weight")->dtype, "F16");
  expect_same_model(src.m, out, held);
}

TEST(HfGptqExport, GptqLayerwiseReadsBackExactly) {
  TinySource src;
  std::string text;
  for (int i = 0; i < 400; ++i) text += "Once upon a time, a little fox named Pip found " + std::to_string(i) + " red apples. ";
  std::ofstream(src.dir.file("calib.txt")) << text;
  Held held;
  QuantizeOptions qo;
  qo.method = QuantMethod::Gptq;
  qo.calib_files = {src.dir.file("calib.txt")};
  qo.calib_n_seq = 4;
  qo.calib_seq_len = 64;
  qo.progress = false;
  const std::string out = src.dir.file("gptq");
  export_hf_gptq(src.m, out, qo, collecting(held, 4, 128, true));
  const auto cfg = hf_gptq_config_read(out);
  ASSERT_TRUE(cfg.has_value());
  EXPECT_TRUE(cfg->desc_act);
  EXPECT_TRUE(cfg->static_groups);
  EXPECT_TRUE(cfg->true_sequential);
  expect_same_model(src.m, out, held);
}

TEST(HfGptqExport, BadRequestsFailBeforeWritingAnything) {
  TinySource src;
  QuantizeOptions qo;
  qo.progress = false;
  HfGptqExportOptions ho;
  const std::string out = src.dir.file("bad");
  const auto expect_error = [&](const HfGptqExportOptions& o, const std::string& part) {
    try {
      export_hf_gptq(src.m, out, qo, o);
      ADD_FAILURE() << "no error for " << part;
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find(part), std::string::npos) << e.what();
    }
    EXPECT_FALSE(fs::exists(out));
  };
  ho.group_size = 96;
  expect_error(ho, "group size 96 does not divide its 256 inputs");
  ho.group_size = 128;
  ho.bits = 5;
  expect_error(ho, "--bits 5");
  ho.bits = 4;
  qo.method = QuantMethod::Awq;
  expect_error(ho, "rtn or gptq");
  qo.method = QuantMethod::Gptq;
  expect_error(ho, "calibration text");
  for (const auto& e : fs::directory_iterator(src.dir.path()))
    EXPECT_EQ(e.path().filename().string().find(".tmp."), std::string::npos) << "temp left: " << e.path();
}

}  // namespace
}  // namespace lowbit
