// lowbit against the real llama.cpp: GGUF files written by `lowbit convert` load in llama.cpp
// (node-llama-cpp 3.21.1) and give the same token ids and per-token log-probabilities.
#include <cmath>
#include <cstdlib>
#include <fstream>
#include <sstream>

#include <gtest/gtest.h>

#include "core/paths.h"
#include "eval/perplexity.h"
#include "harness.h"
#include "model/llama.h"
#include "model/model_file.h"
#include "model/tokenizer.h"

namespace lowbit::e2e {
namespace {

std::string read_file(const std::string& p, size_t max_bytes = SIZE_MAX) {
  std::ifstream in(p, std::ios::binary);
  std::ostringstream ss;
  ss << in.rdbuf();
  std::string s = ss.str();
  if (s.size() > max_bytes) s.resize(max_bytes);
  return s;
}

struct Compare {
  double mean_abs = 0, max_abs = 0;
};

// Converts `source` with the CLI, then compares llama.cpp and lowbit on the GGUF.
Compare compare_with_llamacpp(const std::string& source, const std::string& gguf, const std::string& type,
                              int max_tokens) {
  auto conv = run_cmd(quote(lowbit_bin()) + " convert " + quote(source) + " " + quote(gguf) + " --type " + type);
  EXPECT_EQ(conv.status, 0) << conv.out;
  const std::string text = write_temp("eval-head.txt", read_file(shared_path("data/tinystories/eval.txt"), 4000));
  const auto j = judge("logprobs", gguf, text, "--kv-f32 --max-tokens " + std::to_string(max_tokens));
  const std::vector<int32_t> theirs = j["tokens"].get<std::vector<int32_t>>();
  const ModelFile m = open_model(gguf);
  Tokenizer tok(m.vocab);
  std::vector<int32_t> ours = tok.encode(read_file(text));
  ours.resize(std::min(ours.size(), theirs.size()));
  EXPECT_EQ(ours, theirs) << "token ids differ from llama.cpp's";
  const auto lp = lowbit_logprobs(gguf, theirs);
  const auto ref = j["logprobs"].get<std::vector<double>>();
  EXPECT_EQ(lp.size(), ref.size());
  Compare c;
  c.mean_abs = mean_abs_diff(lp, ref, &c.max_abs);
  std::printf("[ llama.cpp ] %s (%s): %zu tokens, mean |dlogp| %.3g, max %.3g\n", source.c_str(), type.c_str(),
              theirs.size(), c.mean_abs, c.max_abs);
  return c;
}

TEST(LlamaCpp, Stories260KConvertedMatchesLogprobs) {
  REQUIRE_JUDGE();
  const auto c = compare_with_llamacpp(shared_path("models/stories260K.bin"), temp_dir() + "/stories-f32.gguf", "f32", 256);
  EXPECT_LT(c.mean_abs, 1e-3);
}

TEST(LlamaCpp, Stories260KF16ConvertedMatchesLogprobs) {
  REQUIRE_JUDGE();
  const auto c = compare_with_llamacpp(shared_path("models/stories260K.bin"), temp_dir() + "/stories-f16.gguf", "f16", 256);
  EXPECT_LT(c.mean_abs, 1e-3);
}

TEST(LlamaCpp, TinyStoriesHfConvertedMatchesLogprobs) {
  REQUIRE_JUDGE();
  const auto c =
      compare_with_llamacpp(shared_path("models/tinystories-llama-6m"), temp_dir() + "/ts6m-f32.gguf", "f32", 256);
  EXPECT_LT(c.mean_abs, 1e-3);
}

TEST(LlamaCpp, TinyStoriesHfBf16ConvertedMatchesLogprobs) {
  REQUIRE_JUDGE();
  const auto c =
      compare_with_llamacpp(shared_path("models/tinystories-llama-6m"), temp_dir() + "/ts6m-bf16.gguf", "bf16", 256);
  // llama.cpp rounds the activations to bf16 before each bf16 dot product; lowbit's fp32
  // path widens the weights instead, so the two differ by activation rounding (~2e-3 nats).
  EXPECT_LT(c.mean_abs, 3e-3);
}

// The SentencePiece vocabulary llama.cpp itself wrote: same ids for assorted text.
TEST(LlamaCpp, SpmVocabTokenizesLikeLlamaCpp) {
  REQUIRE_JUDGE();
  const std::string vocab = shared_path("models/ggml-vocab-llama-spm.gguf");
  OpenOptions oo;
  oo.vocab_only = true;
  const ModelFile m = open_model(vocab, oo);
  Tokenizer tok(m.vocab);
  const std::string wiki = read_file(shared_path("data/wikitext-2/wiki.test.raw"), 6000);
  const std::vector<std::string> texts = {
      "Hello world, this is a test of the tokenizer. Über café 你好",
      "  leading spaces\tand\ttabs\n\nnew lines   and trailing  ",
      "Emoji 🙂🚀 and symbols ©®™ — “quotes” … ½ ∑ x² 𝔘𝔫𝔦𝔠𝔬𝔡𝔢",
      "numbers 12345 3.14159 1,000,000 0x1F",
      wiki,
  };
  for (size_t i = 0; i < texts.size(); ++i) {
    const std::string f = write_temp("spm-" + std::to_string(i) + ".txt", texts[i]);
    const auto theirs = judge("tokenize", vocab, f)["tokens"].get<std::vector<int32_t>>();
    EXPECT_EQ(tok.encode(texts[i]), theirs) << "text #" << i;
  }
}

// The byte-level BPE vocabulary of the Hugging Face model, as lowbit writes it to GGUF.
TEST(LlamaCpp, BpeVocabTokenizesLikeLlamaCpp) {
  REQUIRE_JUDGE();
  const std::string gguf = temp_dir() + "/ts6m-tok.gguf";
  auto conv = run_cmd(quote(lowbit_bin()) + " convert " + quote(shared_path("models/tinystories-llama-6m")) + " " +
                      quote(gguf) + " --type bf16");
  ASSERT_EQ(conv.status, 0) << conv.out;
  const ModelFile m = open_model(gguf);
  Tokenizer tok(m.vocab);
  const std::vector<std::string> texts = {
      read_file(shared_path("data/wikitext-2/wiki.test.raw"), 6000),
      "Über café 你好 🙂 don't won't I'm we'll they've it's  double  space\n\n\tTab",
  };
  for (size_t i = 0; i < texts.size(); ++i) {
    const std::string f = write_temp("bpe-" + std::to_string(i) + ".txt", texts[i]);
    const auto theirs = judge("tokenize", gguf, f)["tokens"].get<std::vector<int32_t>>();
    EXPECT_EQ(tok.encode(texts[i]), theirs) << "text #" << i;
  }
}

// Reference perplexities from shared/models/README.md (llama.cpp / PyTorch, ctx 256).
double ppl_of(const std::string& model_path, int chunks = 0) {
  const ModelFile m = open_model(model_path);
  LlamaModel model(m, 256);
  Tokenizer tok(m.vocab);
  PerplexityOptions po;
  po.n_ctx = 256;
  po.max_chunks = chunks;
  po.progress = false;
  return perplexity(model, tok, read_file(shared_path("data/tinystories/eval.txt")), po).ppl;
}

TEST(Reference, Stories260KPerplexityMatchesLlamaCpp) {
  const double ppl = ppl_of(shared_path("models/stories260K.bin"));
  std::printf("[ reference ] stories260K eval.txt ctx 256: PPL %.4f (llama.cpp: 6.4907)\n", ppl);
  EXPECT_NEAR(ppl, 6.4907, 0.005);
}

TEST(Reference, TinyStoriesHfDirectPerplexityMatchesPyTorch) {
  const double ppl = ppl_of(shared_path("models/tinystories-llama-6m"));
  std::printf("[ reference ] tinystories-llama-6m eval.txt ctx 256: PPL %.4f (PyTorch: 30.896)\n", ppl);
  EXPECT_NEAR(ppl, 30.896, 0.01);
}

// The HF directory and its GGUF conversion (q/k permuted, interleaved RoPE) agree; reading the
// HF weights with the wrong RoPE layout is caught by a much higher perplexity.
TEST(Reference, HfDirectEqualsConvertedAndWrongRopeLayoutIsVisible) {
  const std::string gguf = temp_dir() + "/ts6m-ppl.gguf";
  auto conv = run_cmd(quote(lowbit_bin()) + " convert " + quote(shared_path("models/tinystories-llama-6m")) + " " +
                      quote(gguf) + " --type f32");
  ASSERT_EQ(conv.status, 0) << conv.out;
  const double direct = ppl_of(shared_path("models/tinystories-llama-6m"), 8);
  const double converted = ppl_of(gguf, 8);
  EXPECT_NEAR(direct, converted, 1e-3 * direct);
  ModelFile wrong = open_model(shared_path("models/tinystories-llama-6m"));
  wrong.config.rope_layout = RopeLayout::Interleaved;
  LlamaModel model(wrong, 256);
  Tokenizer tok(wrong.vocab);
  PerplexityOptions po;
  po.n_ctx = 256;
  po.max_chunks = 8;
  po.progress = false;
  const double bad = perplexity(model, tok, read_file(shared_path("data/tinystories/eval.txt")), po).ppl;
  std::printf("[ rope ] direct %.4f, converted %.4f, wrong layout %.4f\n", direct, converted, bad);
  EXPECT_GT(bad, 1.5 * direct);
}

}  // namespace
}  // namespace lowbit::e2e
