// llama2.c checkpoint and tokenizer.bin readers. Nothing in either file is trusted: every
// header field is range-checked before it sizes anything, every size is overflow-checked,
// and the file must hold exactly the bytes the header implies.
#include "formats/llama2c/llama2c.h"

#include <cctype>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <limits>

#include "core/byte_reader.h"
#include "core/error.h"

namespace lowbit {
namespace {

// Caps far above any llama2.c model, low enough that products of a few of them stay
// meaningful and a hostile header cannot make us build millions of tensor entries.
constexpr int kMaxDim = 1 << 16;
constexpr int kMaxHidden = 1 << 18;
constexpr int kMaxLayers = 1024;
constexpr int kMaxVocab = 1 << 22;
constexpr int kMaxSeqLen = 1 << 22;
constexpr int32_t kMaxTokenLength = 1 << 16;

// llama2.c "version 1/2" exports start with this magic instead of dim.
constexpr uint32_t kLlama2cMagic = 0x616b3432;  // "ak42"

struct HeaderField {
  const char* name;
  int cap;
};
constexpr HeaderField kHeader[7] = {
    {"dim", kMaxDim},         {"hidden_dim", kMaxHidden}, {"n_layers", kMaxLayers},
    {"n_heads", kMaxDim},     {"n_kv_heads", kMaxDim},    {"vocab_size", kMaxVocab},
    {"seq_len", kMaxSeqLen},
};

[[noreturn]] void fail_field(const std::string& file, uint64_t offset, std::string_view field,
                             const std::string& why) {
  fail("{}: byte offset {}: field '{}': {}", file, offset, field, why);
}

uint64_t mul(uint64_t a, uint64_t b, const std::string& file, std::string_view what) {
  uint64_t r;
  if (mul_overflows(a, b, &r)) fail_field(file, 0, what, "size overflows 64 bits (corrupt header?)");
  return r;
}

// One f32 array of the checkpoint, in file order.
struct Section {
  std::string tensor;   // GGUF name ("" for the unused freq_cis tables)
  std::string field;    // llama2.c name, for errors
  std::vector<int64_t> ne;
  uint64_t offset = 0;  // filled by layout()
  uint64_t nbytes = 0;
};

}  // namespace

Llama2cCheckpoint llama2c_read(const std::string& path) {
  Llama2cCheckpoint ck;
  ck.map = MappedFile::open(path);
  ByteReader r(ck.map->data(), ck.map->size(), path);

  if (r.size() >= 4) {
    uint32_t magic;
    std::memcpy(&magic, r.data(), 4);
    if (magic == kLlama2cMagic)
      fail_field(path, 0, "magic",
                 "llama2.c version 1/2 export (magic \"ak42\") is not supported; export with "
                 "--version 0 (the legacy format)");
  }

  int32_t h[7];
  for (int i = 0; i < 7; ++i) h[i] = r.read<int32_t>(kHeader[i].name);

  // vocab_size < 0 flags an unshared classifier. INT_MIN has no positive counterpart.
  ck.shared_classifier = h[5] > 0;
  if (h[5] == std::numeric_limits<int32_t>::min())
    fail_field(path, 20, "vocab_size", fmt::format("{} is not a valid vocabulary size", h[5]));
  if (h[5] < 0) h[5] = -h[5];

  for (int i = 0; i < 7; ++i) {
    const uint64_t off = 4u * i;
    if (h[i] <= 0)
      fail_field(path, off, kHeader[i].name,
                 fmt::format("{} must be positive (not a llama2.c checkpoint?)", h[i]));
    if (h[i] > kHeader[i].cap)
      fail_field(path, off, kHeader[i].name,
                 fmt::format("{} exceeds the limit {} (not a llama2.c checkpoint?)", h[i], kHeader[i].cap));
  }
  ck.dim = h[0];
  ck.hidden_dim = h[1];
  ck.n_layers = h[2];
  ck.n_heads = h[3];
  ck.n_kv_heads = h[4];
  ck.vocab_size = h[5];
  ck.seq_len = h[6];

  if (ck.dim % ck.n_heads != 0)
    fail_field(path, 12, "n_heads", fmt::format("{} does not divide dim {}", ck.n_heads, ck.dim));
  if (ck.n_heads % ck.n_kv_heads != 0)
    fail_field(path, 16, "n_kv_heads",
               fmt::format("{} does not divide n_heads {}", ck.n_kv_heads, ck.n_heads));
  const int head_size = ck.dim / ck.n_heads;
  if (head_size % 2 != 0)
    fail_field(path, 12, "n_heads",
               fmt::format("head size dim/n_heads = {} is odd; RoPE needs pairs", head_size));
  const int64_t dim = ck.dim, hidden = ck.hidden_dim, vocab = ck.vocab_size;
  const int64_t kv_dim = dim / ck.n_heads * ck.n_kv_heads;

  // The file layout: each weight kind for all layers together, in this order.
  std::vector<Section> secs;
  secs.push_back({"token_embd.weight", "token_embedding_table", {dim, vocab}});
  auto per_layer = [&](const char* role, const char* field, std::vector<int64_t> ne) {
    for (int l = 0; l < ck.n_layers; ++l)
      secs.push_back({fmt::format("blk.{}.{}.weight", l, role), fmt::format("{}[{}]", field, l), ne});
  };
  per_layer("attn_norm", "rms_att_weight", {dim});
  per_layer("attn_q", "wq", {dim, dim});
  per_layer("attn_k", "wk", {dim, kv_dim});
  per_layer("attn_v", "wv", {dim, kv_dim});
  per_layer("attn_output", "wo", {dim, dim});
  per_layer("ffn_norm", "rms_ffn_weight", {dim});
  per_layer("ffn_gate", "w1", {dim, hidden});
  per_layer("ffn_down", "w2", {hidden, dim});
  per_layer("ffn_up", "w3", {dim, hidden});
  secs.push_back({"output_norm.weight", "rms_final_weight", {dim}});
  const size_t n_weight_secs = secs.size();
  secs.push_back({"", "freq_cis_real", {head_size / 2, ck.seq_len}});
  secs.push_back({"", "freq_cis_imag", {head_size / 2, ck.seq_len}});
  if (!ck.shared_classifier) secs.push_back({"output.weight", "wcls", {dim, vocab}});

  uint64_t off = r.offset();
  for (Section& s : secs) {
    uint64_t n = 4;
    for (int64_t d : s.ne) n = mul(n, static_cast<uint64_t>(d), path, s.field);
    s.offset = off;
    s.nbytes = n;
    if (add_overflows(off, n, &off)) fail_field(path, s.offset, s.field, "offset overflows 64 bits");
  }
  const uint64_t size = ck.map->size();
  const uint64_t end_weights = secs[n_weight_secs - 1].offset + secs[n_weight_secs - 1].nbytes;
  const uint64_t end_all = off;

  // Shared classifier: the file may end right after rms_final (freq_cis omitted) or after
  // the freq_cis tables. Unshared: wcls follows the freq_cis tables.
  const bool without_freq = ck.shared_classifier && size == end_weights;
  // The first section that runs past the end names the truncation point.
  for (const Section& s : secs) {
    if (without_freq && s.tensor.empty()) break;
    if (s.offset + s.nbytes > size)
      fail_field(path, s.offset, s.field,
                 fmt::format("needs {} bytes but only {} remain (truncated file, or header dims "
                             "that do not match the weights?)",
                             s.nbytes, size > s.offset ? size - s.offset : 0));
  }
  if (size != end_all && !without_freq)
    fail_field(path, end_all, "end of file",
               fmt::format("{} unexpected trailing bytes: the header implies a {}-byte file{} "
                           "(wrong dims, or an unshared classifier without a negative vocab_size?)",
                           size - end_all, end_all,
                           ck.shared_classifier ? fmt::format(" ({} without freq_cis)", end_weights) : ""));

  for (const Section& s : secs) {
    if (s.tensor.empty()) continue;
    TensorRef t;
    t.name = s.tensor;
    t.type = GgmlType::F32;
    t.ne = s.ne;
    t.data = ck.map->data() + s.offset;
    t.nbytes = s.nbytes;
    ck.tensors.push_back(std::move(t));
  }
  return ck;
}

Vocab llama2c_read_tokenizer(const std::string& path, int vocab_size) {
  if (vocab_size <= 0 || vocab_size > kMaxVocab)
    fail("{}: vocab_size {} from the checkpoint is out of range (1..{})", path, vocab_size, kMaxVocab);
  auto map = MappedFile::open(path);
  ByteReader r(map->data(), map->size(), path);

  const uint64_t max_len_off = r.offset();
  const int32_t max_len = r.read<int32_t>("max_token_length");
  if (max_len <= 0 || max_len > kMaxTokenLength)
    fail_field(path, max_len_off, "max_token_length",
               fmt::format("{} is out of range (1..{}; not a llama2.c tokenizer.bin?)", max_len,
                           kMaxTokenLength));
  // Each token needs at least 8 bytes, so a small file cannot claim a huge vocabulary.
  if (static_cast<uint64_t>(vocab_size) * 8 > r.remaining())
    r.fail_at("tokens", fmt::format("{} tokens need at least {} bytes but only {} remain (tokenizer "
                                    "for a smaller vocabulary, or truncated?)",
                                    vocab_size, static_cast<uint64_t>(vocab_size) * 8, r.remaining()));

  Vocab v;
  v.kind = VocabKind::Spm;
  v.tokens.reserve(vocab_size);
  v.scores.reserve(vocab_size);
  v.types.reserve(vocab_size);
  for (int i = 0; i < vocab_size; ++i) {
    const uint64_t score_off = r.offset();
    const float score = r.read<float>("score");
    if (std::isnan(score)) fail_field(path, score_off, fmt::format("score[{}]", i), "NaN");
    const uint64_t len_off = r.offset();
    const int32_t len = r.read<int32_t>("len");
    if (len < 0 || len > max_len)
      fail_field(path, len_off, fmt::format("len[{}]", i),
                 fmt::format("{} is outside 0..max_token_length ({})", len, max_len));
    std::string raw = r.read_bytes(static_cast<uint64_t>(len), fmt::format("piece[{}]", i));

    // The export wrote SentencePiece's "▁" as a plain space; restore it.
    std::string piece;
    piece.reserve(raw.size() + 8);
    for (char c : raw) {
      if (c == ' ') piece += "\xE2\x96\x81";
      else piece += c;
    }
    int32_t type = kTokNormal;
    if (i == 0) {
      type = kTokUnknown;
    } else if (i == 1 || i == 2) {
      type = kTokControl;
      // llama2.c's export wrapped these in newlines ("\n<s>\n").
      if (piece == "\n<s>\n") piece = "<s>";
      if (piece == "\n</s>\n") piece = "</s>";
    } else if (piece.size() == 6 && piece.compare(0, 3, "<0x") == 0 && piece[5] == '>' &&
               std::isxdigit(static_cast<unsigned char>(piece[3])) &&
               std::isxdigit(static_cast<unsigned char>(piece[4]))) {
      type = kTokByte;
    }
    v.tokens.push_back(std::move(piece));
    v.scores.push_back(score);
    v.types.push_back(type);
  }
  if (r.remaining() != 0)
    r.fail_at("end of file",
              fmt::format("{} trailing bytes after {} tokens (tokenizer for a larger vocabulary than "
                          "the checkpoint's?)",
                          r.remaining(), vocab_size));

  v.unk = 0;
  v.bos = vocab_size > 1 ? 1 : -1;
  v.eos = vocab_size > 2 ? 2 : -1;
  v.add_bos = v.bos >= 0;
  v.add_eos = false;
  v.add_space_prefix = true;
  return v;
}

std::string llama2c_find_tokenizer(const std::string& checkpoint_path) {
  namespace fs = std::filesystem;
  std::error_code ec;
  fs::path ck(checkpoint_path);
  fs::path dir = ck.has_parent_path() ? ck.parent_path() : fs::path(".");
  auto is_file = [&](const fs::path& p) { return fs::is_regular_file(p, ec) && !ec; };

  if (is_file(dir / "tokenizer.bin")) return (dir / "tokenizer.bin").string();

  fs::path found;
  int n = 0;
  for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
    const std::string name = it->path().filename().string();
    if (name.size() < 7 || name.compare(0, 3, "tok") != 0 || name.compare(name.size() - 4, 4, ".bin") != 0)
      continue;
    if (!is_file(it->path())) continue;
    if (fs::equivalent(it->path(), ck, ec) && !ec) continue;  // the checkpoint itself
    found = it->path();
    ++n;
  }
  return n == 1 ? found.string() : std::string();
}

}  // namespace lowbit
