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
  // F16 matches to ~1e-4. With integer kernels both engines quantize every activation row to
  // 8 bits; a last-bit float difference upstream (summation order, ggml's polynomial expf in
  // softmax/SiLU) flips an occasional rounding, and flips compound through the layers. Where
  // llama.cpp's batched path uses other kernels than its decode path (tinyBLAS for Q8_0, the
  // repacked Q4_K GEMM, ...), llama.cpp moves by 1e-3 .. 6e-3 against itself when only its
  // batch size changes (printed above); where both paths share one kernel (Q4_0, Q5_x, IQ4_NL,
  // Q6_K) it is self-consistent, and the gap to lowbit is every other op's last bits amplified
  // the same way (lowbit batch vs token-by-token: FloatOrder). Formats and dequantization are
  // bit-exact (fixtures), so the test asserts that floor's order of magnitude; 1e-3 holds for
  // F16 only.
  const double tol = type == "F16" ? 1e-3 : type == "BF16" ? 2.5e-3 : 2e-2;
  EXPECT_LT(mean, tol);
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
  EXPECT_LT(mean, 2e-2);   // the same activation-rounding chaos as any Q4_0 file (see above)
}

}  // namespace
}  // namespace lowbit::e2e
