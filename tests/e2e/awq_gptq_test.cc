// `quantize --method awq+gptq` end to end: AWQ's scales folded into the norms, GPTQ rounding
// into the GGUF grid, a plain GGUF that lowbit (and llama.cpp) run.
#include <fstream>

#include <gtest/gtest.h>

#include "core/paths.h"
#include "harness.h"
#include "model/model_file.h"
#include "model/tokenizer.h"

namespace lowbit::e2e {
namespace {

const std::string& awq_gptq_file() {
  static const std::string out = [] {
    const std::string f = temp_dir() + "/ts6m-awq-gptq-q4_0.gguf";
    const auto r = run_cmd(quote(lowbit_bin()) + " quantize " + quote(shared_path("models/tinystories-llama-6m")) + " " +
                           quote(f) + " --type Q4_0 --pure --method awq+gptq --n-seq 8 --seq-len 128 --calib " +
                           quote(shared_path("data/tinystories/calib.txt")) + " --json");
    EXPECT_EQ(r.status, 0) << r.out;
    EXPECT_NE(r.out.find("\"method\": \"awq+gptq\""), std::string::npos) << r.out;
    return f;
  }();
  return out;
}

TEST(AwqGptqPipeline, RunsEndToEndAndStaysCloseToTheFloatModel) {
  const ModelFile m = open_model(awq_gptq_file());
  for (const auto& t : m.tensors) {
    if (t.ne.size() == 2) {
      EXPECT_EQ(t.type, GgmlType::Q4_0) << t.name;   // --pure: every matrix Q4_0
    }
  }
  auto tokens = Tokenizer(m.vocab).encode(head_of(shared_path("data/tinystories/eval.txt"), 3000));
  tokens.resize(std::min<size_t>(tokens.size(), 192));
  // Plain round-to-nearest Q4_0 as the yardstick: the calibrated file must be closer to the
  // float model (a fold applied after a matrix was already rounded once made it 4x worse).
  const std::string rtn = temp_dir() + "/ts6m-rtn-q4_0.gguf";
  const auto r = run_cmd(quote(lowbit_bin()) + " quantize " + quote(shared_path("models/tinystories-llama-6m")) + " " +
                         quote(rtn) + " --type Q4_0 --pure --quiet");
  ASSERT_EQ(r.status, 0) << r.out;
  const auto base = lowbit_logprobs(shared_path("models/tinystories-llama-6m"), tokens);
  const double mean = mean_abs_diff(lowbit_logprobs(awq_gptq_file(), tokens), base);
  const double mean_rtn = mean_abs_diff(lowbit_logprobs(rtn, tokens), base);
  std::printf("[ awq+gptq ] Q4_0 mean |dlogp| vs float %.4g (round-to-nearest %.4g)\n", mean, mean_rtn);
  EXPECT_LT(mean, mean_rtn);
  // The method is listed in --help.
  const auto h = run_cmd(quote(lowbit_bin()) + " quantize --help");
  EXPECT_NE(h.out.find("awq+gptq"), std::string::npos) << h.out;
}

TEST(AwqGptqPipeline, RunsInLlamaCppWithTheSameLogprobs) {
  REQUIRE_JUDGE();
  const std::string text = write_temp("awq-gptq-eval.txt", head_of(shared_path("data/tinystories/eval.txt"), 3000));
  const auto j = judge("logprobs", awq_gptq_file(), text, "--kv-f32 --max-tokens 192");
  const auto tokens = j["tokens"].get<std::vector<int32_t>>();
  const auto ref = j["logprobs"].get<std::vector<double>>();
  const double mean = mean_abs_diff(lowbit_logprobs(awq_gptq_file(), tokens), ref);
  std::printf("[ llama.cpp ] AWQ+GPTQ Q4_0 mean |dlogp| %.3g\n", mean);
  EXPECT_LT(mean, llamacpp_uses_avx512_order() ? 1e-4 : 2e-2);   // as for GPTQ's Q4_0 file (quant_llamacpp_test)
}

}  // namespace
}  // namespace lowbit::e2e
