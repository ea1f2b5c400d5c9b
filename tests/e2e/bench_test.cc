// `lowbit synth` and `lowbit bench` as a user drives them: a tiny synthetic model has the
// preset's shapes and the mix's types, is reproducible from its seed, loads in llama.cpp
// (same token ids for the synthetic vocabulary), and bench reports positive speeds, the
// bandwidth, and the bytes-per-token of the roofline it documents.
#include <cmath>
#include <cstdlib>
#include <fstream>
#include <map>
#include <sstream>

#include <gtest/gtest.h>

#include "harness.h"
#include "model/model_file.h"
#include "model/tokenizer.h"

namespace lowbit::e2e {
namespace {

std::string bin() { return quote(lowbit_bin()); }

std::string slurp(const std::string& p) {
  std::ifstream in(p, std::ios::binary);
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}


// Synthesizes the tiny preset once per (type, seed) in this test process.
std::string synth_tiny(const std::string& type, int seed = 1) {
  const std::string out = temp_dir() + "/tiny-" + type + "-" + std::to_string(seed) + ".gguf";
  if (std::ifstream(out).good()) return out;
  const auto r = run_cmd(bin() + " synth --preset tiny --type " + type + " --seed " + std::to_string(seed) + " -o " +
                         quote(out));
  EXPECT_EQ(r.status, 0) << r.out;
  return out;
}

nlohmann::json run_json(const std::string& args) {
  const auto r = run_cmd(bin() + " " + args + " 2>/dev/null");
  EXPECT_EQ(r.status, 0) << args << "\n" << r.out;
  try {
    return nlohmann::json::parse(r.out);
  } catch (const std::exception& e) {
    ADD_FAILURE() << args << ": output is not JSON: " << e.what() << "\n" << r.out;
    return {};
  }
}

TEST(Synth, HelpAndBadArguments) {
  for (const char* c : {"synth", "bench"}) {
    auto r = run_cmd(bin() + " " + c + " --help");
    EXPECT_EQ(r.status, 0) << c;
    EXPECT_NE(r.out.find("Usage"), std::string::npos) << r.out;
  }
  EXPECT_NE(run_cmd(bin() + " synth --help").out.find("tinyllama-1.1b"), std::string::npos);
  const std::string out = quote(temp_dir() + "/bad.gguf");
  struct Case {
    std::string args, expect;
  } cases[] = {
      {"synth --preset nosuch -o " + out, "nosuch"},
      {"synth --preset tiny --type Q9_9 -o " + out, "Q9_9"},
      {"synth --preset tiny", "--output"},
      {"bench /nonexistent/model.gguf", "nonexistent"},
      {"bench " + quote(synth_tiny("F32")) + " -p 0 -n 0", "nothing to run"},
      {"bench " + quote(synth_tiny("F32")) + " -r 0", "-r"},
  };
  for (const auto& c : cases) {
    auto r = run_cmd(bin() + " " + c.args);
    EXPECT_NE(r.status, 0) << c.args << "\n" << r.out;
    EXPECT_NE(r.out.find(c.expect), std::string::npos) << c.args << "\n" << r.out;
  }
  EXPECT_FALSE(std::ifstream(temp_dir() + "/bad.gguf").good());
}

TEST(Synth, TinyHasPresetShapesMixTypesAndIsReproducible) {
  const std::string a = synth_tiny("Q4_K_M", 7);
  const auto j = run_json("inspect --json " + quote(a));
  const auto& c = j["config"];
  EXPECT_EQ(c["dim"], 256);
  EXPECT_EQ(c["n_layers"], 2);
  EXPECT_EQ(c["n_heads"], 4);
  EXPECT_EQ(c["n_kv_heads"], 2);
  EXPECT_EQ(c["head_dim"], 64);
  EXPECT_EQ(c["ffn_dim"], 512);
  EXPECT_EQ(c["vocab_size"], 512);
  EXPECT_EQ(c["tied_embeddings"], false);
  EXPECT_EQ(j["vocab"]["kind"], "spm");
  EXPECT_EQ(j["vocab"]["size"], 512);
  EXPECT_EQ(j["vocab"]["bos"], 1);
  EXPECT_EQ(j["vocab"]["eos"], 2);
  EXPECT_EQ(j["metadata"]["general.file_type"], "15");   // LLAMA_FTYPE_MOSTLY_Q4_K_M

  std::map<std::string, std::pair<std::string, std::vector<int64_t>>> t;
  for (const auto& x : j["tensors"]) t[x["name"]] = {x["type"], x["shape"].get<std::vector<int64_t>>()};
  ASSERT_EQ(t.size(), 3u + 2 * 9);
  using S = std::vector<int64_t>;
  EXPECT_EQ(t["token_embd.weight"], std::make_pair(std::string("q4_K"), S{256, 512}));
  EXPECT_EQ(t["output.weight"], std::make_pair(std::string("q6_K"), S{256, 512}));    // output rule
  EXPECT_EQ(t["output_norm.weight"], std::make_pair(std::string("f32"), S{256}));
  EXPECT_EQ(t["blk.0.attn_norm.weight"], std::make_pair(std::string("f32"), S{256}));
  EXPECT_EQ(t["blk.0.attn_q.weight"], std::make_pair(std::string("q4_K"), S{256, 256}));
  EXPECT_EQ(t["blk.0.attn_k.weight"], std::make_pair(std::string("q4_K"), S{256, 128}));
  EXPECT_EQ(t["blk.0.attn_v.weight"], std::make_pair(std::string("q4_K"), S{256, 128}));
  EXPECT_EQ(t["blk.1.attn_v.weight"], std::make_pair(std::string("q6_K"), S{256, 128}));  // more-bits layer
  EXPECT_EQ(t["blk.0.attn_output.weight"], std::make_pair(std::string("q4_K"), S{256, 256}));
  EXPECT_EQ(t["blk.0.ffn_gate.weight"], std::make_pair(std::string("q4_K"), S{256, 512}));
  EXPECT_EQ(t["blk.0.ffn_up.weight"], std::make_pair(std::string("q4_K"), S{256, 512}));
  EXPECT_EQ(t["blk.0.ffn_down.weight"], std::make_pair(std::string("q4_K"), S{512, 256}));
  EXPECT_EQ(t["blk.1.ffn_down.weight"], std::make_pair(std::string("q6_K"), S{512, 256}));

  // Same seed, same bytes (whatever the thread count); another seed, other weights.
  const std::string again = temp_dir() + "/tiny-again.gguf";
  auto r = run_cmd(bin() + " synth --preset tiny --type Q4_K_M --seed 7 --threads 1 -o " + quote(again));
  ASSERT_EQ(r.status, 0) << r.out;
  EXPECT_TRUE(slurp(a) == slurp(again)) << "same seed gave a different file";
  EXPECT_FALSE(slurp(a) == slurp(synth_tiny("Q4_K_M", 8))) << "another seed gave the same file";

  // The --json report agrees with the file.
  const auto rep = run_json("synth --preset tiny --type Q4_K_M --seed 7 --json -o " + quote(temp_dir() + "/tiny-j.gguf"));
  EXPECT_EQ(rep["n_params"], j["n_params"]);
  EXPECT_EQ(rep["bytes"], j["bytes"]);
  EXPECT_EQ(rep["mix"], "Q4_K_M");
}

// F32 weights: random normal(0, 0.02)-ish matrices and unit norms, as documented.
TEST(Synth, WeightsLookLikeTheirDistribution) {
  const ModelFile m = open_model(synth_tiny("F32"));
  const TensorRef& q = m.get("blk.0.attn_q.weight");
  const float* x = reinterpret_cast<const float*>(q.data);
  double s = 0, ss = 0, mx = 0;
  for (uint64_t i = 0; i < q.n_elements(); ++i) {
    s += x[i];
    ss += static_cast<double>(x[i]) * x[i];
    mx = std::max(mx, std::fabs(static_cast<double>(x[i])));
  }
  const double n = static_cast<double>(q.n_elements()), mean = s / n, sd = std::sqrt(ss / n - mean * mean);
  EXPECT_NEAR(mean, 0.0, 1e-3);
  EXPECT_NEAR(sd, 0.02, 5e-4);
  EXPECT_LE(mx, 0.02 * 3.47);
  const float* norm = reinterpret_cast<const float*>(m.get("blk.1.ffn_norm.weight").data);
  for (int i = 0; i < 256; ++i) ASSERT_EQ(norm[i], 1.0f);
}

TEST(Bench, JsonFieldsArePositiveAndBytesPerTokenAsDocumented) {
  const std::string f = synth_tiny("F32");
  const auto j = run_json("bench " + quote(f) + " --json -p 16 -n 4 -r 1 --threads 2 --bandwidth-mib 64");
  for (const char* k : {"pp_mean", "tg_mean", "size_bytes", "n_params"}) EXPECT_GT(j[k].get<double>(), 0) << k;
  EXPECT_EQ(j["pp_sd"], 0.0);   // one run
  EXPECT_EQ(j["pp"]["samples"].size(), 1u);
  EXPECT_EQ(j["threads"], 2);
  EXPECT_EQ(j["n_prompt"], 16);
  EXPECT_EQ(j["n_gen"], 4);
  EXPECT_EQ(j["type_mix"], "F32");
  EXPECT_GT(j["bandwidth"]["bytes_per_second"].get<double>(), 1e8);
  EXPECT_EQ(j["bandwidth"]["buffer_bytes"], 64u << 20);
  // Weights read per token: every layer matrix and the output matrix in f32, plus one
  // embedding row; KV: 2 x layers x kv_dim x 4 bytes x mean attended positions (4 + 3) / 2.
  const uint64_t layer = 256 * 256 * 2 + 256 * 128 * 2 + 3 * 256 * 512;
  EXPECT_EQ(j["roofline"]["weight_bytes_per_token"], (2 * layer + 256 * 512) * 4 + 256 * 4);
  EXPECT_DOUBLE_EQ(j["roofline"]["kv_bytes_per_token"].get<double>(), 2.0 * 2 * 128 * 4 * 3.5);
  EXPECT_GT(j["roofline"]["tokens_per_second"].get<double>(), 0);
  EXPECT_GT(j["roofline"]["tg_fraction"].get<double>(), 0);

  // Quantized weights: bytes per token in the stored types (Q4_0 mix: q4_0 matrices, 18 bytes
  // per 32; the output matrix q6_K, 210 bytes per 256).
  const auto q = run_json("bench " + quote(synth_tiny("Q4_0")) + " --json -p 16 -n 4 -r 2 --bandwidth 10");
  EXPECT_EQ(q["type_mix"], "Q4_0");
  for (const char* k : {"pp_mean", "tg_mean"}) EXPECT_GT(q[k].get<double>(), 0) << k;
  EXPECT_EQ(q["tg"]["samples"].size(), 2u);
  EXPECT_EQ(q["roofline"]["weight_bytes_per_token"], 2 * layer / 32 * 18 + 256 * 512 / 256 * 210 + 256 / 32 * 18);
  EXPECT_EQ(q["bandwidth"]["measured"], false);

  // The table a person reads.
  const auto r = run_cmd(bin() + " bench " + quote(f) + " -p 8 -n 2 -r 2 --bandwidth 10");
  ASSERT_EQ(r.status, 0) << r.out;
  for (const char* s : {"| model", "pp8", "tg2", "synth-tiny", "F32", "roofline", "10.00 GB/s (given)"})
    EXPECT_NE(r.out.find(s), std::string::npos) << s << "\n" << r.out;
}

// llama.cpp loads the synthetic model and tokenizes as lowbit does with its vocabulary.
TEST(Synth, LlamaCppLoadsTinySynth) {
  REQUIRE_JUDGE();
  const std::string f = synth_tiny("Q4_K_M");
  const std::string text = "w1 w2 w250 hello, world! w7\n";
  const auto j = judge("logprobs", f, write_temp("synth-text.txt", text), "--max-tokens 64");
  const auto theirs = j["tokens"].get<std::vector<int32_t>>();
  ASSERT_GE(theirs.size(), 4u);
  EXPECT_EQ(theirs[0], 1);   // <s>
  const ModelFile m = open_model(f);
  EXPECT_EQ(Tokenizer(m.vocab).encode(text), theirs);
  ASSERT_EQ(j["logprobs"].size(), theirs.size() - 1);
  for (const auto& lp : j["logprobs"]) {
    ASSERT_TRUE(lp.is_number()) << j.dump();
    EXPECT_TRUE(std::isfinite(lp.get<double>()));
    EXPECT_LT(lp.get<double>(), 0.0);
  }
}

TEST(Bench, JudgeBenchModeReportsSpeedsAndSettings) {
  REQUIRE_JUDGE();
  const std::string f = synth_tiny("F32");
  const std::string out = temp_dir() + "/judge-bench.json";
  const auto r = run_cmd("node " + quote(LOWBIT_JUDGE) + " bench " + quote(f) +
                         " --n-prompt 16 --n-gen 4 --reps 2 --threads 2 --json-out " + quote(out));
  ASSERT_EQ(r.status, 0) << r.out;
  const auto j = nlohmann::json::parse(slurp(out));
  for (const char* k : {"pp_mean", "tg_mean"}) EXPECT_GT(j[k].get<double>(), 0) << k;
  EXPECT_EQ(j["pp_samples"].size(), 2u);
  EXPECT_EQ(j["tg_samples"].size(), 2u);
  EXPECT_GE(j["pp_sd"].get<double>(), 0);
  EXPECT_EQ(j["settings"]["flash_attention"], false);
  EXPECT_EQ(j["settings"]["kv_cache_type"], "F16");
  EXPECT_EQ(j["settings"]["threads"], 2);
}

}  // namespace
}  // namespace lowbit::e2e
