// Export to the Hugging Face GPTQ layout as a user runs it: tinystories-llama-6m quantized
// with GPTQ at 4 bits, group 128, written as a transformers/vLLM/AutoGPTQ directory, read
// back by lowbit (qweight/qzeros/scales/g_idx dequantized at load) with the same logits as the
// quantized model lowbit held in memory and a perplexity close to the F32 model's; the CLI's
// flags, errors, directory replacement and Ctrl-C behaviour.
#include <cmath>
#include <filesystem>
#include <fstream>
#include <map>

#include <gtest/gtest.h>

#include "core/half.h"
#include "core/paths.h"
#include "eval/perplexity.h"
#include "harness.h"
#include "model/llama.h"
#include "model/tensor_role.h"
#include "model/tokenizer.h"
#include "quant/pipeline/export_hf_gptq.h"

namespace lowbit::e2e {
namespace {
namespace fs = std::filesystem;

std::string bin() { return quote(lowbit_bin()); }
std::string ts6m() { return shared_path("models/tinystories-llama-6m"); }
std::string calib() { return shared_path("data/tinystories/calib.txt"); }
std::string eval_text() { return shared_path("data/tinystories/eval.txt"); }

bool is_linear(TensorRole r) {
  return r == TensorRole::AttnQ || r == TensorRole::AttnK || r == TensorRole::AttnV || r == TensorRole::AttnOutput ||
         r == TensorRole::FfnGate || r == TensorRole::FfnUp || r == TensorRole::FfnDown;
}

double cli_ppl(const std::string& model, int chunks) {
  const auto r = run_cmd(bin() + " perplexity " + quote(model) + " -f " + quote(eval_text()) + " -c 256 --chunks " +
                         std::to_string(chunks) + " --json");
  EXPECT_EQ(r.status, 0) << r.out;
  return r.status == 0 ? nlohmann::json::parse(r.out).at("ppl").get<double>() : NAN;
}

TEST(HfGptq, ReadBackEqualsTheQuantizedModelInMemory) {
  const ModelFile src = open_model(ts6m());
  // The exporter's tensors as it holds them (fp32, the source's layout).
  std::map<std::string, std::vector<float>> held;
  HfGptqExportOptions ho;   // 4 bits, group 128, symmetric
  ho.on_tensor = [&](const std::string& name, const std::vector<int64_t>& ne, const float* v) {
    uint64_t n = 1;
    for (auto d : ne) n *= static_cast<uint64_t>(d);
    held[name].assign(v, v + n);
  };
  QuantizeOptions qo;
  qo.method = QuantMethod::Gptq;
  qo.calib_files = {calib()};
  qo.calib_n_seq = 16;
  qo.calib_seq_len = 128;
  qo.progress = false;
  const std::string out = temp_dir() + "/ts6m-gptq-4b-g128";
  const HfGptqExportReport rep = export_hf_gptq(src, out, qo, ho);
  EXPECT_TRUE(rep.tokenizer);
  for (const char* f : {"config.json", "quantize_config.json", "model.safetensors", "tokenizer.json", "tokenizer_config.json"})
    EXPECT_TRUE(fs::exists(out + "/" + f)) << f;
  std::ifstream cj(out + "/config.json");
  const auto cfg = nlohmann::json::parse(cj);
  EXPECT_EQ(cfg.at("quantization_config").at("quant_method"), "gptq");
  EXPECT_EQ(cfg.at("quantization_config").at("bits"), 4);
  EXPECT_EQ(cfg.at("quantization_config").at("group_size"), 128);
  EXPECT_EQ(cfg.at("quantization_config").at("checkpoint_format"), "gptq");
  EXPECT_EQ(cfg.at("torch_dtype"), "float16");
  EXPECT_EQ(cfg.at("hidden_size"), 256);   // the source's config, kept

  // The model lowbit held: the source with the exporter's tensors (unquantized ones as F16, as
  // in the file). Same layout as the read-back (both Hugging Face, half-split RoPE).
  ModelFile mem = src;
  std::vector<std::vector<uint16_t>> f16;
  for (TensorRef& t : mem.tensors) {
    const auto& v = held.at(t.name);
    if (is_linear(parse_tensor_name(t.name).role)) {
      t = {t.name, GgmlType::F32, t.ne, reinterpret_cast<const uint8_t*>(v.data()), v.size() * 4};
    } else {
      auto& h = f16.emplace_back(v.size());
      for (size_t k = 0; k < v.size(); ++k) h[k] = f32_to_f16(v[k]);
      t = {t.name, GgmlType::F16, t.ne, reinterpret_cast<const uint8_t*>(h.data()), h.size() * 2};
    }
  }
  const ModelFile back = open_model(out);
  ASSERT_TRUE(back.has_vocab);
  const Tokenizer tok(back.vocab);
  std::ifstream et(eval_text());
  std::string text((std::istreambuf_iterator<char>(et)), {});
  std::vector<int32_t> tokens = tok.encode(text.substr(0, 2000), true);
  tokens.resize(std::min<size_t>(tokens.size(), 256));
  std::vector<float> la, lb;
  LlamaModel a(mem, 256), b(back, 256);
  a.eval(tokens, true, la);
  b.eval(tokens, true, lb);
  ASSERT_EQ(la.size(), lb.size());
  double worst = 0, scale = 0;
  for (size_t k = 0; k < la.size(); ++k) {
    worst = std::max(worst, std::fabs(static_cast<double>(la[k]) - lb[k]));
    scale = std::max(scale, std::fabs(static_cast<double>(la[k])));
  }
  EXPECT_LE(worst, 1e-6 * scale) << "max |logit| " << scale;

  // Perplexity: the read-back directory through the CLI equals the in-memory model's, and
  // stays close to the unquantized model's.
  const int chunks = 12;
  PerplexityOptions po;
  po.n_ctx = 256;
  po.max_chunks = chunks;
  po.progress = false;
  LlamaModel m2(mem, 256);
  const double ppl_mem = perplexity(m2, tok, text, po).ppl;
  const double ppl_back = cli_ppl(out, chunks), ppl_f32 = cli_ppl(ts6m(), chunks);
  EXPECT_NEAR(ppl_back, ppl_mem, 1e-6 * ppl_mem);
  EXPECT_LT(ppl_back, 1.10 * ppl_f32) << "4-bit GPTQ lost too much";
  EXPECT_GT(ppl_back, 0.95 * ppl_f32);
  std::printf("tinystories-llama-6m, %d chunks of 256: F32 PPL %.4f, GPTQ 4-bit g128 read back %.4f (in memory %.4f); "
              "%.3f bits/weight (Linears %.3f), %.1f s\n",
              chunks, ppl_f32, ppl_back, ppl_mem, rep.bits_per_weight, rep.linear_bits_per_weight, rep.seconds);
}

TEST(HfGptq, CliFlagsErrorsAndReplacement) {
  const std::string out = temp_dir() + "/ts6m-rtn";
  const std::string base = bin() + " quantize " + quote(ts6m()) + " " + quote(out) + " --format hf-gptq";
  auto r = run_cmd(base + " --method rtn --bits 4 --group-size 128 --asym --json");
  ASSERT_EQ(r.status, 0) << r.out;
  const auto j = nlohmann::json::parse(r.out);
  EXPECT_EQ(j.at("format"), "hf-gptq");
  EXPECT_EQ(j.at("sym"), false);
  EXPECT_TRUE(j.at("tokenizer").get<bool>());
  EXPECT_GT(j.at("linear_bits_per_weight").get<double>(), 4.0);
  // The same command again replaces the previous export (a directory of its own files only).
  r = run_cmd(base + " --method rtn --bits 3 --group-size -1 -q");
  ASSERT_EQ(r.status, 0) << r.out;
  std::ifstream cj(out + "/config.json");
  EXPECT_EQ(nlohmann::json::parse(cj).at("quantization_config").at("bits"), 3);
  EXPECT_TRUE(std::isfinite(cli_ppl(out, 2)));
  // A directory holding anything else is never replaced.
  std::ofstream(out + "/notes.txt") << "mine";
  r = run_cmd(base + " --method rtn -q");
  EXPECT_NE(r.status, 0);
  EXPECT_NE(r.out.find("notes.txt"), std::string::npos) << r.out;
  EXPECT_TRUE(fs::exists(out + "/notes.txt"));

  struct Case {
    std::string args, expect;
  } cases[] = {
      {" --type Q4_0", "--type picks GGUF block types"},
      {" --method awq --calib " + quote(calib()), "rtn or gptq"},
      {" --method gptq", "calibration text"},
      {" --bits 5", "--bits 5"},
      {" --group-size 100", "group size 100 does not divide"},
      {" --sym --asym", "exclude each other"},
  };
  const std::string fresh = temp_dir() + "/never";
  for (const auto& c : cases) {
    r = run_cmd(bin() + " quantize " + quote(ts6m()) + " " + quote(fresh) + " --format hf-gptq" + c.args);
    EXPECT_NE(r.status, 0) << c.args;
    EXPECT_NE(r.out.find(c.expect), std::string::npos) << c.args << ": " << r.out;
    EXPECT_FALSE(fs::exists(fresh)) << c.args;
  }
  r = run_cmd(bin() + " quantize " + quote(out) + " " + quote(out) + " --format hf-gptq --method rtn");   // in place
  EXPECT_NE(r.status, 0);
  EXPECT_NE(r.out.find("is the source model's directory"), std::string::npos) << r.out;
  r = run_cmd(bin() + " quantize " + quote(ts6m()) + " " + quote(fresh) + " --format onnx");
  EXPECT_NE(r.out.find("'onnx' is not one of gguf, hf-gptq"), std::string::npos) << r.out;
  r = run_cmd(bin() + " quantize " + quote(ts6m()) + " " + quote(fresh) + " --bits 4");
  EXPECT_NE(r.status, 0);
  EXPECT_NE(r.out.find("--bits applies to --format hf-gptq"), std::string::npos) << r.out;
}

TEST(HfGptq, InterruptedExportLeavesNothing) {
  const std::string dir = temp_dir() + "/hf-interrupt";
  fs::create_directories(dir);
  const auto r = run_cmd("timeout -s INT 2 " + bin() + " quantize " + quote(ts6m()) + " " + quote(dir + "/out") +
                         " --format hf-gptq --method gptq --calib " + quote(calib()));
  EXPECT_NE(r.status, 0) << r.out;
  EXPECT_TRUE(fs::is_empty(dir)) << "output or temp directory left behind";
}

}  // namespace
}  // namespace lowbit::e2e
