#include "model/tokenizer.h"

#include <algorithm>
#include <chrono>
#include <limits>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "core/error.h"
#include "core/paths.h"
#include "formats/llama2c/llama2c.h"
#include "model/tokenizer_pretokenize.h"
#include "model/unicode.h"

namespace lowbit {
namespace {

using Ids = std::vector<int32_t>;

std::string read_text(const std::string& rel) {
  std::ifstream f(shared_path(rel), std::ios::binary);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

std::vector<std::string> nonempty_lines(const std::string& text, size_t max) {
  std::vector<std::string> out;
  std::istringstream in(text);
  for (std::string line; out.size() < max && std::getline(in, line);)
    if (!line.empty()) out.push_back(line);
  return out;
}

const Tokenizer& tok512() {
  static const Tokenizer t(llama2c_read_tokenizer(shared_path("models/tok512.bin"), 512));
  return t;
}

// The tinystories byte-level BPE vocabulary, read straight from tokenizer.json (independent of
// formats/hf): model.vocab, model.merges ("a b" or ["a", "b"]), added_tokens as control.
Vocab tinystories_vocab() {
  std::ifstream f(shared_path("models/tinystories-llama-6m/tokenizer.json"));
  const nlohmann::json j = nlohmann::json::parse(f);
  size_t n = 0;
  for (const auto& [piece, id] : j["model"]["vocab"].items()) n = std::max(n, id.get<size_t>() + 1);
  for (const auto& a : j["added_tokens"]) n = std::max(n, a["id"].get<size_t>() + 1);
  Vocab v;
  v.kind = VocabKind::Bpe;
  v.pre = "gpt-2";
  v.tokens.resize(n);
  v.types.assign(n, kTokNormal);
  for (const auto& [piece, id] : j["model"]["vocab"].items()) v.tokens[id.get<size_t>()] = piece;
  for (const auto& a : j["added_tokens"]) {
    v.tokens[a["id"].get<size_t>()] = a["content"].get<std::string>();
    v.types[a["id"].get<size_t>()] = a["special"].get<bool>() ? kTokControl : kTokUserDefined;
  }
  for (const auto& m : j["model"]["merges"])
    v.merges.push_back(m.is_string() ? m.get<std::string>() : m[0].get<std::string>() + " " + m[1].get<std::string>());
  v.bos = 2046;
  v.eos = 2047;
  v.add_bos = true;
  return v;
}

const Tokenizer& tinystories() {
  static const Tokenizer t(tinystories_vocab());
  return t;
}

// karpathy/llama2.c run.c encode(), written out plainly: BOS, the " " dummy prefix, one token
// per UTF-8 character (bytes + 3 when it is not a piece), then merge the best-scoring adjacent
// pair (the first one on ties) until no pair is a piece. O(n^2): fine for a paragraph.
Ids llama2c_reference_encode(const Vocab& v, const std::string& text) {
  std::map<std::string, int32_t> lookup;  // llama2.c's pieces use " " where the Vocab has "▁"
  std::vector<std::string> pieces;
  for (size_t i = 0; i < v.tokens.size(); ++i) {
    std::string p;
    for (size_t k = 0; k < v.tokens[i].size();) {
      if (v.tokens[i].compare(k, 3, "\xE2\x96\x81") == 0) {
        p += ' ';
        k += 3;
      } else {
        p += v.tokens[i][k++];
      }
    }
    lookup.emplace(p, static_cast<int32_t>(i));
    pieces.push_back(p);
  }
  Ids out{1};
  if (!text.empty()) out.push_back(lookup.at(" "));
  for (size_t i = 0; i < text.size();) {
    size_t j = i + 1;
    while (j < text.size() && (static_cast<uint8_t>(text[j]) & 0xC0) == 0x80 && j - i < 4) ++j;
    const std::string cp = text.substr(i, j - i);
    if (auto it = lookup.find(cp); it != lookup.end()) {
      out.push_back(it->second);
    } else {
      for (char c : cp) out.push_back(static_cast<uint8_t>(c) + 3);
    }
    i = j;
  }
  for (;;) {
    float best = -1e10f;
    int best_at = -1, best_id = -1;
    for (size_t k = 1; k + 1 < out.size(); ++k) {  // k = 0 is BOS, which never merges
      auto it = lookup.find(pieces[out[k]] + pieces[out[k + 1]]);
      if (it != lookup.end() && v.scores[it->second] > best) {
        best = v.scores[it->second];
        best_at = static_cast<int>(k);
        best_id = it->second;
      }
    }
    if (best_at < 0) break;
    out[best_at] = best_id;
    out.erase(out.begin() + best_at + 1);
  }
  return out;
}

// ---- SPM: tok512 ----

// Expected ids computed three ways that agree: an independent Python port of llama2.c's
// encode(), llama.cpp itself (node-llama-cpp 3.21.1 on a vocab-only GGUF of tok512.bin),
// and llama2c_reference_encode above.
TEST(TokenizerSpm, Tok512KnownAnswers) {
  const Tokenizer& t = tok512();
  EXPECT_EQ(t.encode("Once upon a time, there was a little girl named Lily."),
            (Ids{1, 403, 407, 261, 378, 432, 383, 286, 261, 376, 298, 315, 421, 395, 317, 426}));
  // "▁h" "é" "ll" "o" "▁", then byte fallback for 世 界 🙂 (not among the 512 pieces).
  EXPECT_EQ(t.encode("héllo 世界 🙂"),
            (Ids{1, 270, 485, 306, 414, 410, 231, 187, 153, 234, 152, 143, 410, 243, 162, 156, 133}));
  EXPECT_EQ(t.encode("She said, \"I don't know.\"\n\nThe end."),
            (Ids{1, 338, 336, 432, 313, 442, 279, 289, 439, 413, 409, 416, 327, 426, 436, 13, 13, 434, 260, 344, 264, 426}));
  EXPECT_EQ(t.encode("123 4567"), (Ids{1, 410, 475, 479, 472, 410, 484, 480, 490, 491}));
  EXPECT_EQ(t.encode(" the"), (Ids{1, 410, 265}));  // the prefix space plus "▁the"
  EXPECT_EQ(t.encode("Hello world", /*add_special=*/false), (Ids{346, 306, 414, 263, 304, 341}));
  EXPECT_EQ(t.encode(""), (Ids{1}));
  EXPECT_EQ(t.encode("", false), (Ids{}));
}

TEST(TokenizerSpm, Tok512MatchesLlama2cOnStories) {
  const Tokenizer& t = tok512();
  const auto lines = nonempty_lines(read_text("data/tinystories/eval.txt"), 150);
  ASSERT_GT(lines.size(), 100u);
  for (const std::string& line : lines) EXPECT_EQ(t.encode(line), llama2c_reference_encode(t.vocab(), line)) << line;
}

TEST(TokenizerSpm, Tok512RoundTrips) {
  const Tokenizer& t = tok512();
  const std::string texts[] = {
      "Once upon a time, there was a little girl named Lily.",
      "héllo 世界 🙂",
      "  two leading spaces, trailing too  ",
      "tabs\tand\nnewlines\r\n\n",
      "Ünïcödé — “quotes” ½ Привет こんにちは 🙂👍",
      "x",
      " ",
      "\xFF" "abc bad\xC3x utf-8\xE2\x82",  // byte fallback keeps invalid bytes exact
  };
  for (const std::string& s : texts) {
    EXPECT_EQ(t.decode(t.encode(s)), s) << s;
    EXPECT_EQ(t.decode(t.encode(s, false)), s) << s;
  }
  const std::string stories = read_text("data/tinystories/eval.txt").substr(0, 20000);
  EXPECT_EQ(t.decode(t.encode(stories)), stories);
}

TEST(TokenizerSpm, PiecesAndSpecials) {
  const Tokenizer& t = tok512();
  EXPECT_EQ(t.n_vocab(), 512);
  EXPECT_EQ(t.bos(), 1);
  EXPECT_EQ(t.eos(), 2);
  EXPECT_EQ(t.token_to_piece(265), " the");
  EXPECT_EQ(t.token_to_piece(3 + 'A'), "A");  // <0x41>
  EXPECT_EQ(t.token_to_piece(13), "\n");      // <0x0A>
  EXPECT_EQ(t.token_to_piece(1), "");
  EXPECT_EQ(t.token_to_piece(0), "");
  EXPECT_EQ(t.token_to_piece(-1), "");
  EXPECT_EQ(t.token_to_piece(512), "");
  EXPECT_EQ(t.decode({1, 403, 2, 99999, -5}), "Once");

  // Control texts are plain text unless parse_special.
  const Ids plain = t.encode("<s>hi</s>", false);
  EXPECT_EQ(std::count(plain.begin(), plain.end(), 1), 0);
  // With parse_special: "<s>", then " hi" (space prefix after a special, as llama.cpp), "</s>".
  const Ids parsed = t.encode("<s>hi</s>", false, true);
  ASSERT_GE(parsed.size(), 3u);
  EXPECT_EQ(parsed.front(), 1);
  EXPECT_EQ(parsed.back(), 2);
  EXPECT_EQ(Ids(parsed.begin() + 1, parsed.end() - 1), t.encode("hi", false));
  EXPECT_EQ(t.encode("a<unk>", false, true).back(), 0);
}

// ---- BPE: tinystories tokenizer.json ----

// Expected ids from llama.cpp (node-llama-cpp 3.21.1, vocab-only GGUF, pre "gpt-2") and from
// Hugging Face's tokenizers.js on tokenizer.json; both agree.
TEST(TokenizerBpe, TinystoriesKnownAnswers) {
  const Tokenizer& t = tinystories();
  EXPECT_EQ(t.n_vocab(), 2048);
  EXPECT_EQ(t.encode("Once upon a time"), (Ids{2046, 418, 446, 258, 392}));  // Once Ġupon Ġa Ġtime
  EXPECT_EQ(t.encode("Once upon a time, there was a little girl named Lily.", false),
            (Ids{418, 446, 258, 392, 11, 385, 277, 258, 379, 431, 531, 430, 13}));
  EXPECT_EQ(t.encode("héllo 世界 🙂", false),
            (Ids{71, 127, 102, 290, 78, 220, 160, 116, 244, 163, 243, 234, 220, 172, 253, 247, 224}));
  EXPECT_EQ(t.encode("She said, \"I don't know.\"\n\nThe end.", false),
            (Ids{1190, 336, 11, 348, 40, 882, 437, 721, 439, 198, 198, 283, 847, 13}));
  EXPECT_EQ(t.encode("123 4567", false), (Ids{16, 17, 18, 220, 19, 20, 21, 22}));
  EXPECT_EQ(t.encode("Hello world", false), (Ids{1468, 1122}));
  // Merges were applied: " the" is the single token "Ġthe".
  ASSERT_EQ(t.vocab().tokens[261], "\xC4\xA0the");
  EXPECT_EQ(t.encode(" the", false), (Ids{261}));
  EXPECT_EQ(t.token_to_piece(261), " the");
  EXPECT_EQ(t.token_to_piece(198), "\n");  // "Ċ"
  EXPECT_EQ(t.token_to_piece(2046), "");
}

// A plain BPE: within each pre-tokenized word, merge the lowest-ranked adjacent pair (the
// first on ties) until none is a merge, then look the symbols up.
Ids bpe_reference_encode(const Vocab& v, const std::string& text) {
  std::map<std::string, int> rank;
  for (size_t i = 0; i < v.merges.size(); ++i) rank.emplace(v.merges[i], static_cast<int>(i));
  std::map<std::string, int32_t> ids;
  for (size_t i = 0; i < v.tokens.size(); ++i) ids.emplace(v.tokens[i], static_cast<int32_t>(i));
  std::vector<std::string> words;
  pre_tokenize(text, pre_tokenizer_from_name(v.pre), words);
  Ids out;
  for (const std::string& w : words) {
    std::vector<std::string> syms;
    for (size_t i = 0; i < w.size();) {
      const size_t n = unicode::utf8_len(w[i]);
      syms.push_back(w.substr(i, n));
      i += n;
    }
    for (;;) {
      int best = -1;
      size_t at = 0;
      for (size_t k = 0; k + 1 < syms.size(); ++k) {
        auto it = rank.find(syms[k] + " " + syms[k + 1]);
        if (it != rank.end() && (best < 0 || it->second < best)) best = it->second, at = k;
      }
      if (best < 0) break;
      syms[at] += syms[at + 1];
      syms.erase(syms.begin() + at + 1);
    }
    for (const std::string& s : syms) out.push_back(ids.at(s));
  }
  return out;
}

TEST(TokenizerBpe, MatchesPlainBpeOnStories) {
  const Tokenizer& t = tinystories();
  for (const std::string& line : nonempty_lines(read_text("data/tinystories/eval.txt"), 300))
    EXPECT_EQ(t.encode(line, false), bpe_reference_encode(t.vocab(), line)) << line;
}

TEST(TokenizerBpe, RoundTrips) {
  const Tokenizer& t = tinystories();
  const std::string texts[] = {
      "Once upon a time, there was a little girl named Lily.",
      "héllo 世界 🙂",
      "  two leading spaces, trailing too  ",
      "tabs\tand\nnewlines\r\n\n",
      "Ünïcödé — “quotes” ½ Привет こんにちは 🙂👍 \u2581",
      "it's don't I'M 'll",
      "x",
      "",
  };
  for (const std::string& s : texts) EXPECT_EQ(t.decode(t.encode(s)), s) << s;
  const std::string stories = read_text("data/tinystories/eval.txt");
  EXPECT_EQ(t.decode(t.encode(stories)), stories);
}

TEST(TokenizerBpe, SpecialTokens) {
  const Tokenizer& t = tinystories();
  EXPECT_EQ(t.encode("a<|end_of_text|>b", false, true), (Ids{64, 2047, 65}));
  const Ids plain = t.encode("a<|end_of_text|>b", false, false);
  EXPECT_EQ(std::count(plain.begin(), plain.end(), 2047), 0);
  EXPECT_EQ(t.decode(plain), "a<|end_of_text|>b");

  // User-defined tokens are split out even without parse_special (llama.cpp does the same).
  Vocab v = tinystories_vocab();
  v.tokens[2047] = "<sep>";
  v.types[2047] = kTokUserDefined;
  Tokenizer u(std::move(v));
  EXPECT_EQ(u.encode("a<sep>b", false), (Ids{64, 2047, 65}));
  EXPECT_EQ(u.decode({64, 2047, 65}), "a<sep>b");
}

// ---- pre-tokenizers (the same splits llama.cpp's unicode_regex_split makes) ----

std::vector<std::string> split(const std::string& text, PreTokenizer pre) {
  const auto cpts = unicode::decode_utf8(text);
  std::vector<std::string> out;
  size_t start = 0;
  for (size_t len : pre_tokenize_lengths(cpts, pre)) {
    std::string w;
    for (size_t i = start; i < start + len; ++i) unicode::append_utf8(cpts[i], w);
    out.push_back(w);
    start += len;
  }
  return out;
}

using Words = std::vector<std::string>;

TEST(PreTokenizer, Gpt2) {
  const auto p = PreTokenizer::Gpt2;
  EXPECT_EQ(split("Hello world's  test\n\n 12345abc!!! ok?", p),
            (Words{"Hello", " world", "'s", " ", " test", "\n\n", " 12345", "abc", "!!!", " ok", "?"}));
  EXPECT_EQ(split("DON'T stop\r\n\r\n  x", p), (Words{"DON", "'", "T", " stop", "\r\n\r\n ", " x"}));
  EXPECT_EQ(split("a1,234.5 \u0663\u0664\u0665\u0666", p),
            (Words{"a", "1", ",", "234", ".", "5", " \u0663\u0664\u0665\u0666"}));
  EXPECT_EQ(split("  lead trail  ", p), (Words{" ", " lead", " trail", "  "}));
  EXPECT_EQ(split("héllo 世界 🙂\tend", p), (Words{"héllo", " 世界", " 🙂", "\t", "end"}));
  EXPECT_EQ(split("a\u00a0\u00a0b\u3000c", p), (Words{"a", "\u00a0", "\u00a0", "b", "\u3000", "c"}));
  EXPECT_EQ(split("", p), (Words{}));
}

TEST(PreTokenizer, Llama3) {
  const auto p = PreTokenizer::Llama3;
  EXPECT_EQ(split("Hello world's  test\n\n 12345abc!!! ok?", p),
            (Words{"Hello", " world", "'s", " ", " test", "\n\n", " ", "123", "45", "abc", "!!!", " ok", "?"}));
  EXPECT_EQ(split("DON'T stop\r\n\r\n  x", p), (Words{"DON", "'T", " stop", "\r\n\r\n", " ", " x"}));
  EXPECT_EQ(split("a1,234.5 \u0663\u0664\u0665\u0666", p),
            (Words{"a", "1", ",", "234", ".", "5", " ", "\u0663\u0664\u0665", "\u0666"}));
  EXPECT_EQ(split("héllo 世界 🙂\tend", p), (Words{"héllo", " 世界", " 🙂", "\tend"}));
}

TEST(PreTokenizer, Default) {
  const auto p = PreTokenizer::Default;
  EXPECT_EQ(split("Hello world's  test\n\n 12345abc!!! ok?", p),
            (Words{"Hello", " world", "'", "s", " ", " test", "\n\n", " ", "123", "45", "abc", "!!!", " ok", "?"}));
  EXPECT_EQ(split("a1,234.5 \u0663\u0664\u0665\u0666", p),
            (Words{"a", "1", ",", "234", ".", "5", " ", "\u0663\u0664\u0665\u0666"}));
  EXPECT_EQ(split("1234567", p), (Words{"123", "456", "7"}));
}

TEST(PreTokenizer, Names) {
  EXPECT_EQ(pre_tokenizer_from_name("gpt-2"), PreTokenizer::Gpt2);
  EXPECT_EQ(pre_tokenizer_from_name("llama-bpe"), PreTokenizer::Llama3);
  EXPECT_EQ(pre_tokenizer_from_name("default"), PreTokenizer::Default);
  EXPECT_EQ(pre_tokenizer_from_name(""), PreTokenizer::Default);
  EXPECT_EQ(pre_tokenizer_from_name("starcoder"), PreTokenizer::Starcoder);
  EXPECT_THROW(pre_tokenizer_from_name("qwen2"), Error);
}

TEST(Unicode, Gpt2ByteMapAndDecoder) {
  EXPECT_EQ(unicode::byte_to_gpt2(' '), "\xC4\xA0");   // Ġ
  EXPECT_EQ(unicode::byte_to_gpt2('\n'), "\xC4\x8A");  // Ċ
  EXPECT_EQ(unicode::byte_to_gpt2('A'), "A");
  for (int b = 0; b < 256; ++b) {
    const auto cp = unicode::decode_utf8(unicode::byte_to_gpt2(static_cast<uint8_t>(b)));
    ASSERT_EQ(cp.size(), 1u);
    EXPECT_EQ(unicode::gpt2_to_byte(cp[0]), b);
  }
  EXPECT_EQ(unicode::gpt2_to_byte(0x4E16), -1);
  // llama.cpp's lenient decoder: bad bytes become U+FFFD one at a time.
  EXPECT_EQ(unicode::decode_utf8("a\xFF\xC3"), (std::vector<uint32_t>{'a', 0xFFFD, 0xFFFD}));
  EXPECT_EQ(unicode::decode_utf8("\xF4\x90\x80\x80"), (std::vector<uint32_t>{0xFFFD}));
  EXPECT_EQ(unicode::decode_utf8("\xE4\xB8\x96"), (std::vector<uint32_t>{0x4E16}));
}

// ---- robustness and speed ----

TEST(Tokenizer, HostileVocabularies) {
  // No pieces, no byte tokens, no unk: encoding text is an error, not a crash.
  Tokenizer empty{Vocab{}};
  EXPECT_EQ(empty.encode(""), Ids{});
  EXPECT_THROW(empty.encode("abc"), Error);
  EXPECT_EQ(empty.token_to_piece(0), "");
  EXPECT_EQ(empty.decode({0, 1, -1}), "");

  // Out-of-range special ids are dropped; NaN scores do not break merging.
  Vocab v;
  v.tokens = {"<unk>", "a", "b", "ab", "\xE2\x96\x81"};
  v.scores = {0, 0, 0, std::numeric_limits<float>::quiet_NaN(), 0};
  v.types = {kTokUnknown, kTokNormal, kTokNormal, kTokNormal, kTokNormal};
  v.unk = 0;
  v.bos = 99;
  v.eos = -7;
  Tokenizer t(std::move(v));
  EXPECT_EQ(t.bos(), -1);
  EXPECT_EQ(t.eos(), -1);
  EXPECT_EQ(t.encode("ab"), (Ids{4, 3}));
  EXPECT_EQ(t.encode("abc", false), (Ids{4, 3, 0}));  // 'c' -> unk

  Vocab bpe = tinystories_vocab();
  bpe.pre = "no-such-pre";
  EXPECT_THROW(Tokenizer{std::move(bpe)}, Error);

  // Arbitrary bytes never crash either tokenizer.
  std::string junk;
  for (int i = 0; i < 4096; ++i) junk += static_cast<char>((i * 7919 + (i >> 3)) & 0xFF);
  EXPECT_EQ(tok512().decode(tok512().encode(junk)), junk);
  EXPECT_FALSE(tinystories().encode(junk).empty());
}

TEST(Tokenizer, MegabyteIsFastAndDeterministic) {
  std::string text = read_text("data/wikitext-2/wiki.test.raw");
  ASSERT_GE(text.size(), 1u << 20);
  size_t n = 1u << 20;
  while ((static_cast<uint8_t>(text[n]) & 0xC0) == 0x80) --n;  // cut at a character boundary
  text.resize(n);
  for (const Tokenizer* t : {&tok512(), &tinystories()}) {
    const auto t0 = std::chrono::steady_clock::now();
    const Ids ids = t->encode(text);
    const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    EXPECT_EQ(t->encode(text), ids);
    EXPECT_EQ(t->decode(ids), text);
#if defined(__OPTIMIZE__) && !defined(__SANITIZE_ADDRESS__)  // timed in optimized builds only
    EXPECT_LT(s, 1.0) << (t == &tok512() ? "spm" : "bpe") << " took " << s << " s for 1 MiB";
#else
    (void)s;
#endif
  }
}

TEST(Tokenizer, MoveKeepsState) {
  Tokenizer a(tinystories_vocab());
  const Ids before = a.encode("Once upon a time");
  Tokenizer b(std::move(a));
  EXPECT_EQ(b.encode("Once upon a time"), before);
}

}  // namespace
}  // namespace lowbit
