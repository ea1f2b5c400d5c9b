#include "formats/llama2c/llama2c.h"

#include <unistd.h>

#include <algorithm>
#include <climits>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <set>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "core/error.h"
#include "core/paths.h"

namespace lowbit {
namespace {

namespace fs = std::filesystem;

// A scratch directory removed at the end of each test.
class TempDir {
 public:
  TempDir() {
    path_ = fs::temp_directory_path() /
            fmt::format("lowbit_llama2c_{}_{}", getpid(), ::testing::UnitTest::GetInstance()->random_seed() + counter_++);
    fs::remove_all(path_);
    fs::create_directories(path_);
  }
  ~TempDir() { fs::remove_all(path_); }
  std::string file(const std::string& name) const { return (path_ / name).string(); }

 private:
  static inline int counter_ = 0;
  fs::path path_;
};

void write_file(const std::string& path, const std::string& bytes) {
  // A fresh file rather than a truncated one: ext4 flushes truncate-and-rewrite to disk.
  std::error_code ec;
  fs::remove(path, ec);
  std::ofstream f(path, std::ios::binary | std::ios::trunc);
  f.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

template <typename T>
void put(std::string& s, T v) {
  s.append(reinterpret_cast<const char*>(&v), sizeof(T));
}

struct Dims {
  int dim = 8, hidden = 12, layers = 2, heads = 2, kv_heads = 1, vocab = 10, seq = 4;
  bool shared = true;
  bool freq = true;
};

// A checkpoint whose float k (counting from the first weight) has the value k, so each
// tensor's first element tells where the reader pointed it.
std::string make_checkpoint(const Dims& d) {
  std::string s;
  for (int v : {d.dim, d.hidden, d.layers, d.heads, d.kv_heads, d.shared ? d.vocab : -d.vocab, d.seq}) put<int32_t>(s, v);
  const int64_t kv_dim = d.dim / d.heads * d.kv_heads;
  int64_t n = int64_t{d.vocab} * d.dim +
              d.layers * (2 * d.dim + 2 * int64_t{d.dim} * d.dim + 2 * kv_dim * d.dim + 3 * int64_t{d.hidden} * d.dim) +
              d.dim;
  if (d.freq) n += int64_t{d.seq} * (d.dim / d.heads);
  if (!d.shared) n += int64_t{d.vocab} * d.dim;
  for (int64_t k = 0; k < n; ++k) put<float>(s, static_cast<float>(k));
  return s;
}

std::string expect_error(const std::string& path) {
  try {
    llama2c_read(path);
  } catch (const Error& e) {
    return e.what();
  }
  ADD_FAILURE() << "no error reading " << path;
  return "";
}

TEST(Llama2c, ReadsStories260K) {
  const std::string path = shared_path("models/stories260K.bin");
  Llama2cCheckpoint ck = llama2c_read(path);
  EXPECT_EQ(ck.dim, 64);
  EXPECT_EQ(ck.hidden_dim, 172);
  EXPECT_EQ(ck.n_layers, 5);
  EXPECT_EQ(ck.n_heads, 8);
  EXPECT_EQ(ck.n_kv_heads, 4);
  EXPECT_EQ(ck.vocab_size, 512);
  EXPECT_EQ(ck.seq_len, 512);
  EXPECT_TRUE(ck.shared_classifier);
  ASSERT_EQ(ck.tensors.size(), 1u + 9 * 5 + 1);
  uint64_t total = 0;
  for (const TensorRef& t : ck.tensors) {
    EXPECT_EQ(t.type, GgmlType::F32);
    EXPECT_EQ(t.nbytes, t.n_elements() * 4) << t.name;
    EXPECT_GE(t.data, ck.map->data());
    EXPECT_LE(t.data + t.nbytes, ck.map->data() + ck.map->size());
    total += t.nbytes;
  }
  // Weights plus the 28-byte header plus freq_cis (512 x 4 x 2 floats) fill the file.
  EXPECT_EQ(total + 28 + 512 * 4 * 2 * 4, ck.map->size());
  auto find = [&](const std::string& name) -> const TensorRef& {
    for (const TensorRef& t : ck.tensors)
      if (t.name == name) return t;
    ADD_FAILURE() << "missing " << name;
    return ck.tensors[0];
  };
  EXPECT_EQ(find("token_embd.weight").ne, (std::vector<int64_t>{64, 512}));
  EXPECT_EQ(find("token_embd.weight").data, ck.map->data() + 28);
  EXPECT_EQ(find("blk.4.attn_k.weight").ne, (std::vector<int64_t>{64, 32}));
  EXPECT_EQ(find("blk.0.ffn_gate.weight").ne, (std::vector<int64_t>{64, 172}));
  EXPECT_EQ(find("blk.0.ffn_down.weight").ne, (std::vector<int64_t>{172, 64}));
  EXPECT_EQ(find("output_norm.weight").ne, (std::vector<int64_t>{64}));
  for (const TensorRef& t : ck.tensors) EXPECT_NE(t.name, "output.weight");
}

TEST(Llama2c, LayoutSharedWithAndWithoutFreqCis) {
  TempDir dir;
  for (bool freq : {true, false}) {
    Dims d;
    d.freq = freq;
    const std::string path = dir.file("m.bin");
    write_file(path, make_checkpoint(d));
    Llama2cCheckpoint ck = llama2c_read(path);
    ASSERT_EQ(ck.tensors.size(), 1u + 9 * 2 + 1);
    // File order: the embedding, then each kind for all layers.
    std::vector<std::string> names;
    for (const auto& t : ck.tensors) names.push_back(t.name);
    EXPECT_EQ(names[0], "token_embd.weight");
    EXPECT_EQ(names[1], "blk.0.attn_norm.weight");
    EXPECT_EQ(names[2], "blk.1.attn_norm.weight");
    EXPECT_EQ(names[3], "blk.0.attn_q.weight");
    EXPECT_EQ(names.back(), "output_norm.weight");
    float expect = 0;
    for (const auto& t : ck.tensors) {
      float first;
      std::memcpy(&first, t.data, 4);
      EXPECT_EQ(first, expect) << t.name;
      expect += static_cast<float>(t.n_elements());
    }
  }
}

TEST(Llama2c, UnsharedClassifierFollowsFreqCis) {
  TempDir dir;
  Dims d;
  d.shared = false;
  const std::string path = dir.file("m.bin");
  write_file(path, make_checkpoint(d));
  Llama2cCheckpoint ck = llama2c_read(path);
  EXPECT_FALSE(ck.shared_classifier);
  EXPECT_EQ(ck.vocab_size, 10);
  const TensorRef& out = ck.tensors.back();
  ASSERT_EQ(out.name, "output.weight");
  EXPECT_EQ(out.ne, (std::vector<int64_t>{8, 10}));
  float first;
  std::memcpy(&first, out.data, 4);
  const TensorRef& norm = ck.tensors[ck.tensors.size() - 2];
  float norm_first;
  std::memcpy(&norm_first, norm.data, 4);
  // rms_final (8 floats), then freq_cis real+imag (4 x 2 x 2 floats), then wcls.
  EXPECT_EQ(first, norm_first + 8 + 16);

  // Without the freq_cis tables an unshared file is short.
  d.freq = false;
  write_file(path, make_checkpoint(d));
  EXPECT_NE(expect_error(path).find("field 'wcls'"), std::string::npos);
}

TEST(Llama2c, TruncationAtEveryLengthFails) {
  TempDir dir;
  for (bool shared : {true, false}) {
    Dims d;
    d.shared = shared;
    const std::string full = make_checkpoint(d);
    const size_t freq_bytes = 4 * 4 * 2 * 2;  // seq 4 x head_size/2 2 x (real, imag) x f32
    const size_t without_freq = full.size() - freq_bytes - (shared ? 0 : 4 * 80);
    const std::string path = dir.file("t.bin");
    write_file(path, full);
    // Every section boundary (and a byte either side), and every other length too.
    std::set<size_t> lengths;
    {
      Llama2cCheckpoint ck = llama2c_read(path);
      for (const TensorRef& t : ck.tensors) {
        const size_t a = static_cast<size_t>(t.data - ck.map->data());
        for (size_t b : {a, a + static_cast<size_t>(t.nbytes)})
          for (size_t x : {b - 1, b, b + 1}) lengths.insert(x);
      }
      for (size_t b : {without_freq, without_freq + freq_bytes / 2, without_freq + freq_bytes})
        for (size_t x : {b - 1, b, b + 1}) lengths.insert(x);
    }
    for (size_t len = 0; len < full.size(); ++len) lengths.insert(len);  // cheap enough: all
    for (size_t len : lengths) {
      if (len >= full.size()) continue;
      write_file(path, full.substr(0, len));
      if (shared && len == without_freq) {
        EXPECT_NO_THROW(llama2c_read(path));
        continue;
      }
      const std::string msg = expect_error(path);
      EXPECT_NE(msg.find(path + ": byte offset "), std::string::npos) << len << ": " << msg;
      EXPECT_NE(msg.find("field '"), std::string::npos) << msg;
    }
    // Trailing bytes are an error too.
    write_file(path, full + std::string(4, '\0'));
    EXPECT_NE(expect_error(path).find("field 'end of file'"), std::string::npos);
  }
}

TEST(Llama2c, TruncationNamesTheSection) {
  TempDir dir;
  Dims d;
  const std::string full = make_checkpoint(d);
  const std::string path = dir.file("t.bin");
  write_file(path, full.substr(0, 10));
  EXPECT_NE(expect_error(path).find("byte offset 8: field 'n_layers'"), std::string::npos);
  write_file(path, full.substr(0, 28 + 4 * 80 - 4));  // inside the embedding (10 x 8 floats)
  EXPECT_NE(expect_error(path).find("byte offset 28: field 'token_embedding_table'"), std::string::npos);
  write_file(path, full.substr(0, 28 + 4 * 80 + 4));  // inside rms_att of layer 0
  EXPECT_NE(expect_error(path).find("byte offset 348: field 'rms_att_weight[0]'"), std::string::npos);
  write_file(path, full.substr(0, full.size() - 4));  // inside freq_cis_imag
  EXPECT_NE(expect_error(path).find("field 'freq_cis_imag'"), std::string::npos);
}

TEST(Llama2c, HostileHeaders) {
  TempDir dir;
  const std::string path = dir.file("h.bin");
  struct Case {
    int field;
    int32_t value;
    const char* expect;
  };
  const Case cases[] = {
      {0, 0, "byte offset 0: field 'dim': 0 must be positive"},
      {0, -8, "byte offset 0: field 'dim': -8 must be positive"},
      {0, INT_MAX, "byte offset 0: field 'dim'"},
      {1, 0, "byte offset 4: field 'hidden_dim'"},
      {1, INT_MAX, "byte offset 4: field 'hidden_dim'"},
      {2, -1, "byte offset 8: field 'n_layers'"},
      {2, 1 << 30, "byte offset 8: field 'n_layers'"},
      {3, 0, "byte offset 12: field 'n_heads'"},
      {3, 3, "byte offset 12: field 'n_heads': 3 does not divide dim 8"},
      {3, 8, "byte offset 12: field 'n_heads': head size dim/n_heads = 1 is odd"},
      {4, 0, "byte offset 16: field 'n_kv_heads'"},
      {4, 3, "byte offset 16: field 'n_kv_heads': 3 does not divide n_heads 2"},
      {5, 0, "byte offset 20: field 'vocab_size'"},
      {5, INT_MIN, "byte offset 20: field 'vocab_size': -2147483648"},
      {5, INT_MAX, "byte offset 20: field 'vocab_size'"},
      {5, -(1 << 22) - 1, "byte offset 20: field 'vocab_size'"},
      {6, 0, "byte offset 24: field 'seq_len'"},
      {6, INT_MAX, "byte offset 24: field 'seq_len'"},
  };
  const std::string good = make_checkpoint(Dims{});
  for (const Case& c : cases) {
    std::string bytes = good;
    std::memcpy(&bytes[4 * c.field], &c.value, 4);
    write_file(path, bytes);
    const std::string msg = expect_error(path);
    EXPECT_NE(msg.find(c.expect), std::string::npos) << "field " << c.field << " = " << c.value << ": " << msg;
  }
  // Plausible but wrong dims: the size check catches them.
  {
    std::string bytes = good;
    const int32_t vocab = 11;
    std::memcpy(&bytes[20], &vocab, 4);
    write_file(path, bytes);
    EXPECT_NE(expect_error(path).find("field '"), std::string::npos);
  }
  // A llama2.c v1/v2 export.
  {
    std::string bytes = good;
    std::memcpy(&bytes[0], "ak42", 4);
    std::reverse(bytes.begin(), bytes.begin() + 4);
    write_file(path, bytes);
    EXPECT_NE(expect_error(path).find("version 1/2"), std::string::npos);
  }
  // Empty and missing files.
  write_file(path, "");
  EXPECT_NE(expect_error(path).find("field 'dim'"), std::string::npos);
  EXPECT_THROW(llama2c_read(dir.file("missing.bin")), Error);
}

// ---- tokenizer.bin ----

std::string make_tokenizer(const std::vector<std::pair<std::string, float>>& toks, int32_t max_len = 8) {
  std::string s;
  put<int32_t>(s, max_len);
  for (const auto& [piece, score] : toks) {
    put<float>(s, score);
    put<int32_t>(s, static_cast<int32_t>(piece.size()));
    s += piece;
  }
  return s;
}

std::vector<std::pair<std::string, float>> small_vocab() {
  return {{"<unk>", 0}, {"\n<s>\n", 0}, {"\n</s>\n", 0}, {"<0x41>", 0}, {" a", -1}, {"b", -2}, {"a b", -3}};
}

std::string expect_tok_error(const std::string& path, int vocab_size) {
  try {
    llama2c_read_tokenizer(path, vocab_size);
  } catch (const Error& e) {
    return e.what();
  }
  ADD_FAILURE() << "no error reading " << path << " with vocab_size " << vocab_size;
  return "";
}

TEST(Llama2cTokenizer, ReadsTok512) {
  Vocab v = llama2c_read_tokenizer(shared_path("models/tok512.bin"), 512);
  ASSERT_EQ(v.size(), 512u);
  EXPECT_EQ(v.kind, VocabKind::Spm);
  EXPECT_EQ(v.tokens[0], "<unk>");
  EXPECT_EQ(v.tokens[1], "<s>");
  EXPECT_EQ(v.tokens[2], "</s>");
  EXPECT_EQ(v.types[0], kTokUnknown);
  EXPECT_EQ(v.types[1], kTokControl);
  EXPECT_EQ(v.types[2], kTokControl);
  EXPECT_EQ(v.tokens[3], "<0x00>");
  EXPECT_EQ(v.tokens[258], "<0xFF>");
  for (int i = 3; i < 259; ++i) EXPECT_EQ(v.types[i], kTokByte) << i;
  EXPECT_EQ(v.tokens[259], "\xE2\x96\x81t");  // "▁t"
  EXPECT_EQ(v.scores[260], -1.0f);            // "he"
  EXPECT_EQ(v.tokens[265], "\xE2\x96\x81the");
  for (int i = 259; i < 512; ++i) {
    EXPECT_EQ(v.types[i], kTokNormal) << i;
    EXPECT_EQ(v.tokens[i].find(' '), std::string::npos) << i;
  }
  EXPECT_EQ(v.bos, 1);
  EXPECT_EQ(v.eos, 2);
  EXPECT_EQ(v.unk, 0);
  EXPECT_TRUE(v.add_bos);
  EXPECT_FALSE(v.add_eos);
  EXPECT_TRUE(v.add_space_prefix);
}

TEST(Llama2cTokenizer, MapsSpacesAndTypes) {
  TempDir dir;
  const std::string path = dir.file("tokenizer.bin");
  write_file(path, make_tokenizer(small_vocab()));
  Vocab v = llama2c_read_tokenizer(path, 7);
  EXPECT_EQ(v.tokens[4], "\xE2\x96\x81" "a");
  EXPECT_EQ(v.tokens[6], "a\xE2\x96\x81" "b");
  EXPECT_EQ(v.types[3], kTokByte);
  EXPECT_EQ(v.types[5], kTokNormal);
  EXPECT_EQ(v.scores[6], -3.0f);
}

TEST(Llama2cTokenizer, TruncationAtEveryLengthFails) {
  TempDir dir;
  const std::string path = dir.file("tokenizer.bin");
  const std::string full = make_tokenizer(small_vocab());
  for (size_t len = 0; len < full.size(); ++len) {
    write_file(path, full.substr(0, len));
    const std::string msg = expect_tok_error(path, 7);
    EXPECT_NE(msg.find(path + ": byte offset "), std::string::npos) << msg;
  }
  write_file(path, full);
  EXPECT_NO_THROW(llama2c_read_tokenizer(path, 7));
  // A vocab_size smaller than the file's: trailing bytes.
  EXPECT_NE(expect_tok_error(path, 6).find("trailing bytes"), std::string::npos);
  // Larger: runs out of bytes.
  EXPECT_NE(expect_tok_error(path, 8).find("byte offset"), std::string::npos);
}

TEST(Llama2cTokenizer, HostileFields) {
  TempDir dir;
  const std::string path = dir.file("tokenizer.bin");
  // max_token_length absurd.
  for (int32_t m : {0, -1, INT_MIN, INT_MAX, (1 << 16) + 1}) {
    write_file(path, make_tokenizer(small_vocab(), m));
    EXPECT_NE(expect_tok_error(path, 7).find("byte offset 0: field 'max_token_length'"), std::string::npos) << m;
  }
  // A token longer than max_token_length.
  write_file(path, make_tokenizer(small_vocab(), 3));
  EXPECT_NE(expect_tok_error(path, 7).find("field 'len[0]'"), std::string::npos);
  // Negative and past-the-end lengths (token 0's len is at offset 8).
  for (int32_t len : {-1, INT_MIN, 1000, INT_MAX}) {
    std::string bytes = make_tokenizer(small_vocab(), INT16_MAX);
    std::memcpy(&bytes[8], &len, 4);
    write_file(path, bytes);
    const std::string msg = expect_tok_error(path, 7);
    EXPECT_TRUE(msg.find("byte offset 8: field 'len[0]'") != std::string::npos ||
                msg.find("field 'piece[0]'") != std::string::npos)
        << len << ": " << msg;
  }
  // NaN score.
  {
    auto toks = small_vocab();
    toks[4].second = std::numeric_limits<float>::quiet_NaN();
    write_file(path, make_tokenizer(toks));
    EXPECT_NE(expect_tok_error(path, 7).find("field 'score[4]'"), std::string::npos);
  }
  // vocab_size out of range: nothing is allocated for it.
  write_file(path, make_tokenizer(small_vocab()));
  for (int n : {0, -1, INT_MIN, INT_MAX, (1 << 22) + 1}) EXPECT_THROW(llama2c_read_tokenizer(path, n), Error) << n;
  // A huge but allowed vocab_size on a small file fails before reserving memory for it.
  EXPECT_NE(expect_tok_error(path, 1 << 22).find("field 'tokens'"), std::string::npos);
}

TEST(Llama2cTokenizer, FindTokenizer) {
  EXPECT_EQ(fs::path(llama2c_find_tokenizer(shared_path("models/stories260K.bin"))).filename(), "tok512.bin");

  TempDir dir;
  const std::string ck = dir.file("model.bin");
  write_file(ck, "x");
  EXPECT_EQ(llama2c_find_tokenizer(ck), "");
  write_file(dir.file("tok4096.bin"), "x");
  EXPECT_EQ(llama2c_find_tokenizer(ck), dir.file("tok4096.bin"));
  write_file(dir.file("tok512.bin"), "x");
  EXPECT_EQ(llama2c_find_tokenizer(ck), "");  // ambiguous
  write_file(dir.file("tokenizer.bin"), "x");
  EXPECT_EQ(llama2c_find_tokenizer(ck), dir.file("tokenizer.bin"));
  // The checkpoint itself never counts.
  TempDir dir2;
  write_file(dir2.file("tok_model.bin"), "x");
  EXPECT_EQ(llama2c_find_tokenizer(dir2.file("tok_model.bin")), "");
}

}  // namespace
}  // namespace lowbit
