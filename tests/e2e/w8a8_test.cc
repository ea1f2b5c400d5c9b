// SmoothQuant W8A8 files (`quantize --method smoothquant --w8a8 dynamic|static`): written by the
// CLI, marked lowbit-only by `inspect`, loaded and run through the int8 kernels with log-probs
// close to the float model's; a file missing a companion tensor or its metadata is a clear
// load error, never a crash.
#include <algorithm>
#include <cmath>
#include <fstream>
#include <map>

#include <gtest/gtest.h>

#include "core/error.h"
#include "core/paths.h"
#include "formats/gguf/gguf.h"
#include "harness.h"
#include "model/llama.h"
#include "model/model_file.h"
#include "model/tokenizer.h"
#include "model/w8a8.h"

namespace lowbit::e2e {
namespace {

std::string model_dir() { return shared_path("models/tinystories-llama-6m"); }

// Quantizes once per mode for the whole suite.
const std::string& w8a8_file(const std::string& mode) {
  static std::map<std::string, std::string> files;
  auto it = files.find(mode);
  if (it != files.end()) return it->second;
  const std::string out = temp_dir() + "/ts6m-w8a8-" + mode + ".gguf";
  const auto r = run_cmd(quote(lowbit_bin()) + " quantize " + quote(model_dir()) + " " + quote(out) +
                         " --type Q8_0 --method smoothquant --w8a8 " + mode +
                         " --smooth-alpha 0.5 --act-observer percentile --n-seq 8 --seq-len 128 --calib " +
                         quote(shared_path("data/tinystories/calib.txt")) + " --json");
  EXPECT_EQ(r.status, 0) << r.out;
  return files[mode] = out;
}

std::vector<int32_t> eval_tokens(size_t n) {
  const ModelFile m = open_model(model_dir());
  auto t = Tokenizer(m.vocab).encode(head_of(shared_path("data/tinystories/eval.txt"), 4000));
  if (t.size() > n) t.resize(n);
  return t;
}

// Rewrites `src` without the tensors named in `drop` and the keys named in `drop_keys`.
std::string rewrite(const std::string& src, const std::string& name, const std::vector<std::string>& drop,
                    const std::vector<std::string>& drop_keys = {}) {
  GgufFile g = gguf_read(src);
  std::erase_if(g.tensors, [&](const GgufTensorInfo& t) { return std::find(drop.begin(), drop.end(), t.name) != drop.end(); });
  for (const auto& k : drop_keys) g.erase(k);
  const std::string out = temp_dir() + "/" + name;
  gguf_write(out, g);
  return out;
}

// The load error's message, or "" when the model loads.
std::string load_error(const std::string& path) {
  try {
    const ModelFile m = open_model(path);
    LlamaModel model(m, 64);
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

class W8A8File : public ::testing::TestWithParam<const char*> {};

TEST_P(W8A8File, LoadsAndLogprobsAreCloseToTheFloatModel) {
  const std::string mode = GetParam();
  const std::string& file = w8a8_file(mode);
  const ModelFile m = open_model(file);
  EXPECT_EQ(w8a8_mode_name(w8a8_mode_of(m)), mode);
  const TensorRef& q = m.get("blk.0.attn_q.weight");
  EXPECT_EQ(q.type, GgmlType::I8);
  EXPECT_EQ(m.get("blk.0.attn_q.weight_scale").ne, std::vector<int64_t>{q.ne[1]});
  EXPECT_EQ(m.find("blk.0.attn_q.input_range") != nullptr, mode == "static");
  EXPECT_EQ(m.get("token_embd.weight").type, GgmlType::Q8_0);   // embeddings/output keep the mix's type
  EXPECT_EQ(m.get("output.weight").type, GgmlType::Q8_0);
  const LlamaModel model(m, 64);
  EXPECT_NE(model.weights().layers[0].wq.row_scales, nullptr);
  EXPECT_EQ(model.weights().layers[0].wq.act_static, mode == "static");

  const auto tokens = eval_tokens(192);
  double max_abs = 0;
  const double mean = mean_abs_diff(lowbit_logprobs(file, tokens), lowbit_logprobs(model_dir(), tokens), &max_abs);
  std::printf("[ w8a8 %s ] mean |dlogp| vs float %.4g (max %.3g) over %zu tokens\n", mode.c_str(), mean, max_abs, tokens.size());
  // Measured (8 calibration sequences): dynamic ≈ 0.016, static (percentile) ≈ 0.03; Q4_0 is ≈ 0.15.
  EXPECT_LT(mean, mode == "dynamic" ? 0.04 : 0.08);
  EXPECT_LT(max_abs, 1.0);
}

INSTANTIATE_TEST_SUITE_P(Modes, W8A8File, ::testing::Values("dynamic", "static"));

TEST(W8A8, InspectSaysLowbitOnly) {
  auto r = run_cmd(quote(lowbit_bin()) + " inspect " + quote(w8a8_file("dynamic")));
  ASSERT_EQ(r.status, 0) << r.out;
  EXPECT_NE(r.out.find("lowbit-only file (W8A8"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("i8"), std::string::npos);
  r = run_cmd(quote(lowbit_bin()) + " inspect " + quote(w8a8_file("static")) + " --json");
  ASSERT_EQ(r.status, 0) << r.out;
  const auto j = nlohmann::json::parse(r.out);
  EXPECT_NE(j["lowbit_only"].get<std::string>().find("static"), std::string::npos);
  EXPECT_EQ(j["metadata"]["lowbit.w8a8"], "\"static\"");
  // A plain GGUF says nothing of the kind.
  const std::string plain = temp_dir() + "/plain.gguf";
  ASSERT_EQ(run_cmd(quote(lowbit_bin()) + " convert " + quote(shared_path("models/stories260K.bin")) + " " + quote(plain) +
                    " --type f32").status, 0);
  r = run_cmd(quote(lowbit_bin()) + " inspect " + quote(plain));
  EXPECT_EQ(r.out.find("lowbit-only"), std::string::npos) << r.out;
}

TEST(W8A8, MissingCompanionsAreClearLoadErrors) {
  const std::string dyn = w8a8_file("dynamic"), st = w8a8_file("static");
  ASSERT_EQ(load_error(dyn), "");
  ASSERT_EQ(load_error(st), "");
  std::string e = load_error(rewrite(dyn, "no-scale.gguf", {"blk.2.ffn_up.weight_scale"}));
  EXPECT_NE(e.find("I8 tensor 'blk.2.ffn_up.weight' has no scale tensor 'blk.2.ffn_up.weight_scale'"), std::string::npos) << e;
  e = load_error(rewrite(st, "no-range.gguf", {"blk.0.attn_output.input_range"}));
  EXPECT_NE(e.find("no input range tensor 'blk.0.attn_output.input_range'"), std::string::npos) << e;
  e = load_error(rewrite(dyn, "no-key.gguf", {}, {"lowbit.w8a8"}));
  EXPECT_NE(e.find("not a lowbit W8A8 file"), std::string::npos) << e;
  // The CLI prints the one-line error and exits non-zero.
  const auto r = run_cmd(quote(lowbit_bin()) + " run " + quote(temp_dir() + "/no-scale.gguf") + " -p hi -n 2");
  EXPECT_NE(r.status, 0);
  EXPECT_NE(r.out.find("weight_scale"), std::string::npos) << r.out;
}

TEST(W8A8, BadScalesAreLoadErrors) {
  GgufFile g = gguf_read(w8a8_file("dynamic"));
  std::vector<float> bad(256, 0.01f);
  bad[5] = 0.0f;
  for (auto& t : g.tensors)
    if (t.name == "blk.1.attn_output.weight_scale") t.data = reinterpret_cast<const uint8_t*>(bad.data());
  const std::string out = temp_dir() + "/zero-scale.gguf";
  gguf_write(out, g);
  const std::string e = load_error(out);
  EXPECT_NE(e.find("'blk.1.attn_output.weight_scale' element 5 is 0"), std::string::npos) << e;
}

TEST(W8A8, NeedsSmoothQuant) {
  const auto r = run_cmd(quote(lowbit_bin()) + " quantize " + quote(model_dir()) + " " + quote(temp_dir() + "/x.gguf") +
                         " --type Q8_0 --method gptq --w8a8 dynamic --calib " + quote(shared_path("data/tinystories/calib.txt")));
  EXPECT_NE(r.status, 0);
  EXPECT_NE(r.out.find("--w8a8 needs --method smoothquant"), std::string::npos) << r.out;
  const auto b = run_cmd(quote(lowbit_bin()) + " quantize " + quote(model_dir()) + " " + quote(temp_dir() + "/x.gguf") +
                         " --method smoothquant --w8a8 fast --calib " + quote(shared_path("data/tinystories/calib.txt")));
  EXPECT_NE(b.status, 0);
  EXPECT_NE(b.out.find("--w8a8 'fast' is not one of dynamic, static"), std::string::npos) << b.out;
}

}  // namespace
}  // namespace lowbit::e2e
