// How far apart does float summation order alone put two evaluations of the same quantized
// file? lowbit against itself: the whole text as one batch (tile kernels: per-sub-block
// products, 32-row tiles) versus one token at a time (row dot kernels / packed decode kernels),
// identical weights and identical activation quantization. Every activation row is rounded to
// 8 bits before each product, so last-bit differences flip occasional roundings and the flips
// compound over layers: this is the floor any two engines with different kernels share, and
// what the llama.cpp comparison (Types/QuantVsLlamaCpp) measures on top of identical formats.
#include <cstdio>

#include <gtest/gtest.h>

#include "core/paths.h"
#include "harness.h"
#include "model/llama.h"
#include "model/model_file.h"
#include "model/tokenizer.h"

namespace lowbit::e2e {
namespace {

class FloatOrder : public ::testing::TestWithParam<const char*> {};

TEST_P(FloatOrder, BatchAndTokenByTokenAgreeToTheRoundingFloor) {
  const std::string type = GetParam();
  const std::string gguf = temp_dir() + "/ts6m-order-" + type + ".gguf";
  auto q = run_cmd(quote(lowbit_bin()) + " quantize " + quote(shared_path("models/tinystories-llama-6m")) + " " +
                   quote(gguf) + " --type " + type + " --pure --quiet");
  ASSERT_EQ(q.status, 0) << q.out;
  const ModelFile m = open_model(gguf);
  std::vector<int32_t> tokens = Tokenizer(m.vocab).encode(head_of(shared_path("data/tinystories/eval.txt"), 3000));
  tokens.resize(std::min<size_t>(tokens.size(), 192));
  const int V = m.config.vocab_size;
  const std::vector<double> batch = lowbit_logprobs(gguf, tokens);

  LlamaModel model(m, static_cast<int>(tokens.size()));
  std::vector<float> all, step;
  for (int32_t t : tokens) {
    model.eval(std::span<const int32_t>(&t, 1), true, step);
    all.insert(all.end(), step.begin(), step.begin() + V);
  }
  double mx = 0;
  const double mean = mean_abs_diff(batch, logprobs_from_logits(all, tokens, V), &mx);
  std::printf("[ lowbit vs lowbit ] %-7s batch vs token-by-token mean |dlogp| %.3g  max %.3g\n", type.c_str(), mean, mx);
  // F32 weights take no activation rounding: float order alone stays at ~1e-6.
  EXPECT_LT(mean, type == "F32" ? 1e-4 : 2e-2);
}

INSTANTIATE_TEST_SUITE_P(Types, FloatOrder, ::testing::Values("F32", "Q8_0", "Q6_K", "Q4_K_M", "Q4_0"));

}  // namespace
}  // namespace lowbit::e2e
