// Files written by llama.cpp itself (see shared/fixtures/llamacpp-blocks/README.md).
#include <filesystem>

#include <gtest/gtest.h>

#include "core/paths.h"
#include "formats/gguf/gguf.h"
#include "formats/gguf/gguf_testing.h"

namespace lowbit {
namespace {

namespace fs = std::filesystem;
using testing::expect_file_eq;
using testing::temp_path;

std::vector<std::string> block_fixtures() {
  std::vector<std::string> out;
  const fs::path dir = shared_path("fixtures/llamacpp-blocks");
  if (!fs::is_directory(dir)) return out;
  for (const auto& e : fs::directory_iterator(dir))
    if (e.path().extension() == ".gguf") out.push_back(e.path().string());
  std::sort(out.begin(), out.end());
  return out;
}

#define REQUIRE_FILE(path) \
  if (!fs::exists(path)) GTEST_SKIP() << path << " not found (set LOWBIT_SHARED)"

TEST(GgufFixtures, EveryBlockFixtureParses) {
  const auto files = block_fixtures();
  if (files.empty()) GTEST_SKIP() << "no fixtures under " << shared_dir();
  EXPECT_GE(files.size(), 17u);
  for (const auto& path : files) {
    SCOPED_TRACE(path);
    const GgufFile f = gguf_read(path);
    EXPECT_EQ(f.version, 3u);
    EXPECT_EQ(f.alignment, 32u);
    EXPECT_EQ(f.get_str("general.architecture"), "llama");
    EXPECT_EQ(f.get_u64("llama.embedding_length"), 256u);
    ASSERT_EQ(f.tensors.size(), 12u);
    EXPECT_EQ(f.find("tokenizer.ggml.tokens")->as_str_array("tokenizer.ggml.tokens").size(), 512u);
    for (const auto& t : f.tensors) {
      uint64_t nbytes = 0;
      ASSERT_TRUE(ggml_tensor_bytes(t.type, t.ne.data(), static_cast<int>(t.ne.size()), &nbytes));
      EXPECT_EQ(t.nbytes, nbytes) << t.name;
      EXPECT_GE(t.data, f.map->data());
      EXPECT_LE(t.data + t.nbytes, f.map->data() + f.map->size());
    }
    // The norms stay f32 whatever the file's type.
    EXPECT_EQ(f.find_tensor("output_norm.weight")->type, GgmlType::F32);
    // Serializing what was read gives llama.cpp's bytes back exactly.
    const std::vector<uint8_t> again = gguf_write_bytes(f);
    ASSERT_EQ(again.size(), f.map->size());
    EXPECT_EQ(0, std::memcmp(again.data(), f.map->data(), again.size()));
  }
}

TEST(GgufFixtures, Q4KTensors) {
  const std::string path = shared_path("fixtures/llamacpp-blocks/blocks-Q4_K.gguf");
  REQUIRE_FILE(path);
  const GgufFile f = gguf_read(path);
  const GgufTensorInfo* q = f.find_tensor("blk.0.attn_q.weight");
  ASSERT_NE(q, nullptr);
  EXPECT_EQ(q->type, GgmlType::Q4_K);
  EXPECT_EQ(ggml_type_name(q->type), "q4_K");
  EXPECT_EQ(q->ne, (std::vector<int64_t>{256, 256}));
  EXPECT_EQ(q->nbytes, 256u * 256 / 256 * 144);
  const GgufTensorInfo* down = f.find_tensor("blk.0.ffn_down.weight");
  ASSERT_NE(down, nullptr);
  EXPECT_EQ(down->type, GgmlType::Q4_K);
  EXPECT_EQ(down->ne, (std::vector<int64_t>{512, 256}));
  EXPECT_EQ(down->nbytes, 512u * 256 / 256 * 144);
  int q4k = 0;
  for (const auto& t : f.tensors) q4k += t.type == GgmlType::Q4_K;
  EXPECT_EQ(q4k, 9);  // every matrix; the three norms are f32
  EXPECT_EQ(f.get_u64("general.file_type"), 14u);  // LLAMA_FTYPE_MOSTLY_Q4_K_S
  // llama.cpp writes tensors back to back, each padded to the alignment.
  uint64_t off = 0;
  for (const auto& t : f.tensors) {
    EXPECT_EQ(t.offset, off) << t.name;
    off += (t.nbytes + 31) / 32 * 32;
  }
  EXPECT_EQ(f.tensors.back().data + f.tensors.back().nbytes, f.map->data() + f.map->size());
}

TEST(GgufFixtures, LlamaSpmVocab) {
  const std::string path = shared_path("models/ggml-vocab-llama-spm.gguf");
  REQUIRE_FILE(path);
  const GgufFile f = gguf_read(path);
  EXPECT_EQ(f.get_str("tokenizer.ggml.model"), "llama");
  EXPECT_TRUE(f.tensors.empty());
  const GgufValue* tokens = f.find("tokenizer.ggml.tokens");
  ASSERT_NE(tokens, nullptr);
  EXPECT_EQ(tokens->elem_type, GgufType::STRING);
  const auto toks = tokens->as_str_array("tokenizer.ggml.tokens");
  ASSERT_EQ(toks.size(), 32000u);
  EXPECT_EQ(toks[0], "<unk>");
  EXPECT_EQ(toks[1], "<s>");
  EXPECT_EQ(toks[2], "</s>");
  EXPECT_EQ(toks[3], "<0x00>");
  EXPECT_EQ(f.find("tokenizer.ggml.scores")->as_f32_array("tokenizer.ggml.scores").size(), 32000u);
  EXPECT_EQ(f.find("tokenizer.ggml.token_type")->as_i64_array("tokenizer.ggml.token_type").size(), 32000u);
  EXPECT_EQ(f.get_u64("tokenizer.ggml.bos_token_id"), 1u);
  EXPECT_EQ(f.get_u64("tokenizer.ggml.eos_token_id"), 2u);
  EXPECT_EQ(f.get_u64("llama.vocab_size"), 32000u);
  EXPECT_EQ(f.find("tokenizer.ggml.add_bos_token")->type, GgufType::BOOL);
  EXPECT_EQ(f.get_u64("tokenizer.ggml.add_bos_token"), 1u);
  EXPECT_EQ(f.find("tokenizer.ggml.tokens")->to_display(3),
            "array<string> [\"<unk>\", \"<s>\", \"</s>\", ... (32000 total)]");
}

void expect_rewrite_identical(const std::string& path) {
  const GgufFile orig = gguf_read(path);
  const std::string out = temp_path("rewrite-" + fs::path(path).filename().string());
  gguf_write(out, orig);
  const GgufFile back = gguf_read(out);
  expect_file_eq(orig, back);
  // llama.cpp and lowbit lay files out the same way, so the bytes match exactly.
  ASSERT_EQ(back.map->size(), orig.map->size());
  EXPECT_EQ(0, std::memcmp(back.map->data(), orig.map->data(), orig.map->size()));
  fs::remove(out);
}

TEST(GgufFixtures, RewriteQ4KIsIdentical) {
  const std::string path = shared_path("fixtures/llamacpp-blocks/blocks-Q4_K.gguf");
  REQUIRE_FILE(path);
  expect_rewrite_identical(path);
}

TEST(GgufFixtures, RewriteVocabIsIdentical) {
  const std::string path = shared_path("models/ggml-vocab-llama-spm.gguf");
  REQUIRE_FILE(path);
  expect_rewrite_identical(path);
}

}  // namespace
}  // namespace lowbit
