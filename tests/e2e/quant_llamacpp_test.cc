// Quantized GGUF files written by lowbit run in llama.cpp and give the same log-probs as in
// lowbit, per block type (every matrix in that type: --pure).
#include <cmath>
#include <fstream>
#include <sstream>

#include <gtest/gtest.h>

#include "core/paths.h"
#include "harness.h"
#include "model/llama.h"
#include "model/model_file.h"
#include "model/tokenizer.h"

namespace lowbit::e2e {
namespace {

class QuantVsLlamaCpp : public ::testing::TestWithParam<const char*> {};

TEST_P(QuantVsLlamaCpp, LogprobsMatch) {
  REQUIRE_JUDGE();
  const std::string type = GetParam();
  const std::string gguf = temp_dir() + "/ts6m-" + type + ".gguf";
  auto q = run_cmd(quote(lowbit_bin()) + " quantize " + quote(shared_path("models/tinystories-llama-6m")) + " " +
                   quote(gguf) + " --type " + type + " --pure --quiet");
  ASSERT_EQ(q.status, 0) << q.out;
  const std::string text = write_temp("q-eval.txt", head_of(shared_path("data/tinystories/eval.txt"), 3000));
  const auto j = judge("logprobs", gguf, text, "--kv-f32 --max-tokens 192");
  const auto tokens = j["tokens"].get<std::vector<int32_t>>();
  const auto ref = j["logprobs"].get<std::vector<double>>();
  double mx = 0;
  const double mean = mean_abs_diff(lowbit_logprobs(gguf, tokens), ref, &mx);
  // llama.cpp against itself: the same file, one token per batch (its decode kernels) instead
  // of the whole sequence in one batch. Only the float summation order changes.
  const auto one = judge("logprobs", gguf, text, "--kv-f32 --max-tokens 192 --batch 1");
  const double floor = mean_abs_diff(one["logprobs"].get<std::vector<double>>(), ref);
  std::printf("[ llama.cpp ] %-7s mean |dlogp| %.3g  max %.3g   (llama.cpp batch 192 vs batch 1: %.3g)\n", type.c_str(),
              mean, mx, floor);
  // Both engines round every activation row to 8 bits before an integer matrix product, so a
  // last-bit float difference anywhere upstream flips an occasional rounding and the flips
  // compound through the layers (llama.cpp against itself at another batch size: printed
  // above, up to 6e-3). lowbit therefore evaluates the forward pass in llama.cpp's float order
  // (kernels/ggml_math.h: attention, softmax, SwiGLU, rope; qtile.h: each type's batch kernel;
  // fgemm.h: F16/BF16), read off its AVX-512 build. Where llama.cpp runs that build, every
  // activation is equal bit for bit and the log-probs agree to ~2e-6 (the last softmax; BF16 also
  // needs AVX512_BF16, whose vdpbf16ps order fgemm follows). Elsewhere the test asserts the
  // rounding floor's magnitude (F16 1e-4 and BF16 9e-4 before fgemm, the others up to 6e-3).
  const bool exact = llamacpp_uses_avx512_order() && (type != "BF16" || cpu_has_flag("avx512_bf16"));
  const double tol = exact ? 1e-4 : type == "F16" ? 1e-3 : type == "BF16" ? 2.5e-3 : 2e-2;
  EXPECT_LT(mean, tol) << (exact ? "llama.cpp runs its AVX-512 build here: the activations should be bit-identical" : "");
}

INSTANTIATE_TEST_SUITE_P(Types, QuantVsLlamaCpp,
                         ::testing::Values("F16", "BF16", "Q8_0", "Q6_K", "Q5_K_M", "Q5_1", "Q5_0", "Q4_K_M", "Q4_1",
                                           "Q4_0", "IQ4_NL", "IQ4_XS", "Q3_K_M", "Q2_K", "TQ2_0", "TQ1_0"));

}  // namespace
}  // namespace lowbit::e2e

namespace lowbit::e2e {
namespace {

// GPTQ's weights, rounded into the Q4_0 grid, ship as a plain GGUF that llama.cpp runs.
TEST(GptqGguf, Q4_0RunsInLlamaCppWithTheSameLogprobs) {
  REQUIRE_JUDGE();
  const std::string gguf = temp_dir() + "/ts6m-gptq-q4_0.gguf";
  auto q = run_cmd(quote(lowbit_bin()) + " quantize " + quote(shared_path("models/tinystories-llama-6m")) + " " +
                   quote(gguf) + " --type Q4_0 --pure --method gptq --n-seq 8 --seq-len 128 --calib " +
                   quote(shared_path("data/tinystories/calib.txt")) + " --quiet");
  ASSERT_EQ(q.status, 0) << q.out;
  const std::string text = write_temp("gptq-eval.txt", head_of(shared_path("data/tinystories/eval.txt"), 3000));
  const auto j = judge("logprobs", gguf, text, "--kv-f32 --max-tokens 192");
  const auto tokens = j["tokens"].get<std::vector<int32_t>>();
  const auto ref = j["logprobs"].get<std::vector<double>>();
  const double mean = mean_abs_diff(lowbit_logprobs(gguf, tokens), ref);
  std::printf("[ llama.cpp ] GPTQ Q4_0 mean |dlogp| %.3g\n", mean);
  EXPECT_LT(mean, llamacpp_uses_avx512_order() ? 1e-4 : 2e-2);   // as any Q4_0 file (see above)
}

}  // namespace
}  // namespace lowbit::e2e
