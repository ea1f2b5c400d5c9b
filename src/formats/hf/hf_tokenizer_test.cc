#include "formats/hf/hf_tokenizer.h"

#include <filesystem>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "core/paths.h"
#include "formats/hf/hf_test_util.h"

namespace lowbit {
namespace {

using nlohmann::json;
using test::expect_error;
using test::TempDir;
using test::write_file;

const std::string kSp = "\xe2\x96\x81";   // "▁"

json byte_level(bool use_regex = true) {
  return {{"type", "ByteLevel"}, {"add_prefix_space", false}, {"trim_offsets", true}, {"use_regex", use_regex}};
}

// A tiny GPT-2 style byte-level BPE: h, e, l, o, he, hel and one special token.
json minimal_bpe() {
  return {{"version", "1.0"},
          {"added_tokens", {{{"id", 6}, {"content", "<|eot|>"}, {"special", true}}}},
          {"normalizer", nullptr},
          {"pre_tokenizer", byte_level()},
          {"post_processor", nullptr},
          {"model",
           {{"type", "BPE"},
            {"unk_token", nullptr},
            {"vocab", {{"h", 0}, {"e", 1}, {"l", 2}, {"o", 3}, {"he", 4}, {"hel", 5}}},
            {"merges", {"h e", "he l"}}}}};
}

Vocab read(const TempDir& dir, const json& tok, const json* config = nullptr) {
  const std::string path = dir.file("tokenizer.json");
  write_file(path, tok.dump());
  std::filesystem::remove(dir.file("tokenizer_config.json"));
  if (config) write_file(dir.file("tokenizer_config.json"), config->dump());
  return hf_read_tokenizer(path);
}

TEST(HfTokenizer, ReadsTinystoriesTokenizer) {
  const std::string path = shared_path("models/tinystories-llama-6m/tokenizer.json");
  if (!std::filesystem::exists(path)) GTEST_SKIP() << path << " not found (set LOWBIT_SHARED)";
  const Vocab v = hf_read_tokenizer(path);
  EXPECT_EQ(v.kind, VocabKind::Bpe);
  ASSERT_EQ(v.size(), 2048u);
  ASSERT_EQ(v.types.size(), 2048u);
  EXPECT_EQ(v.tokens[0], "!");
  EXPECT_EQ(v.types[0], kTokNormal);
  EXPECT_EQ(v.tokens[2046], "<|begin_of_text|>");
  EXPECT_EQ(v.types[2046], kTokControl);
  EXPECT_EQ(v.tokens[2047], "<|end_of_text|>");
  EXPECT_EQ(v.types[2047], kTokControl);
  EXPECT_EQ(v.bos, 2046);
  EXPECT_EQ(v.eos, 2047);
  EXPECT_EQ(v.unk, -1);
  EXPECT_TRUE(v.add_bos);
  EXPECT_FALSE(v.add_eos);
  EXPECT_FALSE(v.add_space_prefix);
  EXPECT_EQ(v.pre, "gpt-2");
  ASSERT_EQ(v.merges.size(), 1790u);
  EXPECT_EQ(v.merges[0], "h e");
  EXPECT_EQ(v.merges[1], "\xc4\xa0 t");   // "Ġ t"
  EXPECT_TRUE(v.scores.empty());
  for (size_t i = 0; i < 2046; ++i) ASSERT_EQ(v.types[i], kTokNormal) << i;
}

TEST(HfTokenizer, WithoutConfigUsesTheTemplate) {
  const std::string src = shared_path("models/tinystories-llama-6m/tokenizer.json");
  if (!std::filesystem::exists(src)) GTEST_SKIP() << src << " not found (set LOWBIT_SHARED)";
  TempDir dir;
  const std::string path = dir.file("tokenizer.json");
  std::filesystem::copy_file(src, path);
  const Vocab v = hf_read_tokenizer(path);
  EXPECT_EQ(v.bos, 2046);   // the template's leading special token
  EXPECT_TRUE(v.add_bos);
  EXPECT_EQ(v.eos, -1);     // the template ends with the sequence
  EXPECT_FALSE(v.add_eos);
  // An explicit config path is used even when not beside the file.
  write_file(dir.file("other_config.json"), R"({"eos_token": {"content": "<|end_of_text|>"}, "add_bos_token": false})");
  const Vocab w = hf_read_tokenizer(path, dir.file("other_config.json"));
  EXPECT_EQ(w.eos, 2047);
  EXPECT_EQ(w.bos, 2046);
  EXPECT_FALSE(w.add_bos);
  expect_error([&] { hf_read_tokenizer(path, dir.file("missing_config.json")); }, {"missing_config.json"});
}

TEST(HfTokenizer, MinimalByteLevel) {
  TempDir dir;
  const Vocab v = read(dir, minimal_bpe());
  EXPECT_EQ(v.kind, VocabKind::Bpe);
  ASSERT_EQ(v.size(), 7u);
  EXPECT_EQ(v.tokens[5], "hel");
  EXPECT_EQ(v.types[6], kTokControl);
  EXPECT_EQ(v.merges, (std::vector<std::string>{"h e", "he l"}));
  EXPECT_EQ(v.bos, -1);
  EXPECT_EQ(v.eos, -1);
  EXPECT_FALSE(v.add_bos);
  EXPECT_EQ(v.pre, "gpt-2");
}

TEST(HfTokenizer, MergesAsPairs) {
  TempDir dir;
  json t = minimal_bpe();
  t["model"]["merges"] = json::array({json::array({"h", "e"}), json::array({"he", "l"})});
  EXPECT_EQ(read(dir, t).merges, (std::vector<std::string>{"h e", "he l"}));
}

TEST(HfTokenizer, HolesAreFilledAsUnused) {
  TempDir dir;
  json t = minimal_bpe();
  t["added_tokens"] = {{{"id", 9}, {"content", "<|eot|>"}, {"special", true}},
                       {{"id", 7}, {"content", "<tool>"}, {"special", false}}};
  const Vocab v = read(dir, t);
  ASSERT_EQ(v.size(), 10u);
  EXPECT_EQ(v.tokens[6], "[PAD6]");
  EXPECT_EQ(v.types[6], kTokUnused);
  EXPECT_EQ(v.tokens[7], "<tool>");
  EXPECT_EQ(v.types[7], kTokUserDefined);
  EXPECT_EQ(v.tokens[8], "[PAD8]");
  EXPECT_EQ(v.types[9], kTokControl);
}

TEST(HfTokenizer, Llama3SplitIsLlamaBpe) {
  TempDir dir;
  json t = minimal_bpe();
  t["pre_tokenizer"] = {
      {"type", "Sequence"},
      {"pretokenizers",
       {{{"type", "Split"},
         {"pattern",
          {{"Regex",
            R"((?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)"}}},
         {"behavior", "Isolated"},
         {"invert", false}},
        byte_level(false)}}};
  json tmpl = {{"type", "TemplateProcessing"}};
  tmpl["single"] = json::parse(R"([{"SpecialToken": {"id": "<|eot|>", "type_id": 0}}, {"Sequence": {"id": "A", "type_id": 0}}])");
  tmpl["special_tokens"] = json::parse(R"({"<|eot|>": {"id": "<|eot|>", "ids": [6], "tokens": ["<|eot|>"]}})");
  t["post_processor"] = {{"type", "Sequence"}, {"processors", {{{"type", "ByteLevel"}}, tmpl}}};
  const Vocab v = read(dir, t);
  EXPECT_EQ(v.pre, "llama-bpe");
  EXPECT_EQ(v.bos, 6);
  EXPECT_TRUE(v.add_bos);
}

TEST(HfTokenizer, ConfigSpecialTokens) {
  TempDir dir;
  json t = minimal_bpe();
  // A template with bos and eos around the sequence.
  t["post_processor"] = {{"type", "TemplateProcessing"},
                         {"single", {{{"SpecialToken", {{"id", "he"}}}}, {{"Sequence", {{"id", "A"}}}}, {{"SpecialToken", {{"id", "<|eot|>"}}}}}}};
  Vocab v = read(dir, t);
  EXPECT_EQ(v.bos, 4);
  EXPECT_EQ(v.eos, 6);
  EXPECT_TRUE(v.add_bos);
  EXPECT_TRUE(v.add_eos);

  const json cfg = {{"bos_token", {{"__type", "AddedToken"}, {"content", "<|eot|>"}}},
                    {"eos_token", "hel"},
                    {"pad_token", "<pad-not-in-vocab>"},
                    {"add_bos_token", false},
                    {"add_eos_token", false}};
  v = read(dir, t, &cfg);
  EXPECT_EQ(v.bos, 6);
  EXPECT_EQ(v.eos, 5);
  EXPECT_EQ(v.pad, -1);
  EXPECT_FALSE(v.add_bos);
  EXPECT_FALSE(v.add_eos);

  const json cfg_null = {{"bos_token", nullptr}, {"pad_token", "o"}};
  v = read(dir, t, &cfg_null);
  EXPECT_EQ(v.bos, 4);    // null: the template's
  EXPECT_EQ(v.pad, 3);
  EXPECT_TRUE(v.add_bos);

  const json bad = {{"bos_token", "<s>"}};
  expect_error([&] { read(dir, t, &bad); }, {"tokenizer_config.json", "field 'bos_token'", "not in the vocabulary"});
  const json bad_type = {{"add_bos_token", "yes"}};
  expect_error([&] { read(dir, t, &bad_type); }, {"tokenizer_config.json", "field 'add_bos_token'"});
  const json bad_obj = {{"eos_token", {{"text", "x"}}}};
  expect_error([&] { read(dir, t, &bad_obj); }, {"field 'eos_token.content': missing"});
}

// A SentencePiece-style BPE as the tokenizers library writes Llama 2's: normalizer prepends
// and replaces spaces with "▁", byte fallback tokens, an unknown token.
json minimal_spm() {
  json vocab = {{"<unk>", 0}, {"<s>", 1}, {"</s>", 2}, {"<0x0A>", 3}, {"<0x41>", 4}, {kSp, 5}, {"a", 6},
                {"b", 7}, {kSp + "a", 8}, {"ab", 9}, {kSp + "ab", 10}, {"ba", 11}};
  return {{"version", "1.0"},
          {"added_tokens",
           {{{"id", 0}, {"content", "<unk>"}, {"special", true}},
            {{"id", 1}, {"content", "<s>"}, {"special", true}},
            {{"id", 2}, {"content", "</s>"}, {"special", true}}}},
          {"normalizer",
           {{"type", "Sequence"},
            {"normalizers",
             {{{"type", "Prepend"}, {"prepend", kSp}},
              {{"type", "Replace"}, {"pattern", {{"String", " "}}}, {"content", kSp}}}}}},
          {"pre_tokenizer", nullptr},
          {"post_processor",
           {{"type", "TemplateProcessing"},
            {"single", {{{"SpecialToken", {{"id", "<s>"}, {"type_id", 0}}}}, {{"Sequence", {{"id", "A"}, {"type_id", 0}}}}}},
            {"special_tokens", {{"<s>", {{"id", "<s>"}, {"ids", {1}}, {"tokens", {"<s>"}}}}}}}},
          {"model",
           {{"type", "BPE"},
            {"unk_token", "<unk>"},
            {"byte_fallback", true},
            {"fuse_unk", true},
            {"vocab", vocab},
            {"merges", {kSp + " a", "a b", kSp + "a b", kSp + " ab"}}}}};
}

TEST(HfTokenizer, SentencePieceStyle) {
  TempDir dir;
  const Vocab v = read(dir, minimal_spm());
  EXPECT_EQ(v.kind, VocabKind::Spm);
  ASSERT_EQ(v.size(), 12u);
  EXPECT_EQ(v.tokens[8], kSp + "a");
  EXPECT_EQ(v.types[0], kTokUnknown);
  EXPECT_EQ(v.types[1], kTokControl);
  EXPECT_EQ(v.types[2], kTokControl);
  EXPECT_EQ(v.types[3], kTokByte);
  EXPECT_EQ(v.types[4], kTokByte);
  EXPECT_EQ(v.types[5], kTokNormal);
  EXPECT_EQ(v.unk, 0);
  EXPECT_EQ(v.bos, 1);
  EXPECT_TRUE(v.add_bos);
  EXPECT_EQ(v.eos, -1);
  EXPECT_TRUE(v.add_space_prefix);
  EXPECT_EQ(v.pre, "default");
  EXPECT_TRUE(v.merges.empty());
  ASSERT_EQ(v.scores.size(), 12u);
  EXPECT_EQ(v.scores[8], 0.0f);    // "▁a": merge 0
  EXPECT_EQ(v.scores[9], -1.0f);   // "ab": merge 1
  EXPECT_EQ(v.scores[10], -2.0f);  // "▁ab": first made by merge 2 (merge 3 makes it again)
  EXPECT_EQ(v.scores[11], -1e9f);  // "ba": no merge makes it
  EXPECT_EQ(v.scores[6], -1e9f);   // single characters
  EXPECT_EQ(v.scores[3], -1e9f);   // bytes
  EXPECT_EQ(v.scores[0], 0.0f);    // unk and control
  EXPECT_EQ(v.scores[1], 0.0f);
}

TEST(HfTokenizer, SentencePieceWithMetaspace) {
  TempDir dir;
  json t = minimal_spm();
  t["normalizer"] = nullptr;
  t["pre_tokenizer"] = {{"type", "Metaspace"}, {"replacement", kSp}, {"prepend_scheme", "first"}, {"split", false}};
  Vocab v = read(dir, t);
  EXPECT_EQ(v.kind, VocabKind::Spm);
  EXPECT_TRUE(v.add_space_prefix);
  t["pre_tokenizer"]["prepend_scheme"] = "never";
  v = read(dir, t);
  EXPECT_FALSE(v.add_space_prefix);
  // Replace without Prepend: spaces become "▁" but none is added in front.
  t = minimal_spm();
  t["normalizer"] = {{"type", "Replace"}, {"pattern", {{"String", " "}}}, {"content", kSp}};
  v = read(dir, t);
  EXPECT_EQ(v.kind, VocabKind::Spm);
  EXPECT_FALSE(v.add_space_prefix);
}

struct BadTokenizer {
  const char* what;
  std::function<void(json&)> edit;
  std::string expect;
};

TEST(HfTokenizerHostile, RejectsBadTokenizers) {
  const std::vector<BadTokenizer> cases = {
      {"no model", [](json& t) { t.erase("model"); }, "field 'model': missing"},
      {"model not object", [](json& t) { t["model"] = "BPE"; }, "field 'model': expected an object"},
      {"wordpiece", [](json& t) { t["model"]["type"] = "WordPiece"; }, "\"WordPiece\" is not supported"},
      {"unigram", [](json& t) { t["model"]["type"] = "Unigram"; }, "field 'model.type'"},
      {"no vocab", [](json& t) { t["model"].erase("vocab"); }, "field 'model.vocab': missing"},
      {"empty vocab", [](json& t) { t["model"]["vocab"] = json::object(); t["added_tokens"] = json::array(); }, "is empty"},
      {"string id", [](json& t) { t["model"]["vocab"]["h"] = "0"; }, "field 'model.vocab.h': expected an integer"},
      {"negative id", [](json& t) { t["model"]["vocab"]["h"] = -1; }, "field 'model.vocab.h'"},
      {"huge id", [](json& t) { t["model"]["vocab"]["h"] = 1ll << 40; }, "out of range"},
      {"too many holes", [](json& t) { t["model"]["vocab"]["h"] = 5000; }, "only 7 tokens are defined"},
      {"duplicate id", [](json& t) { t["model"]["vocab"]["e"] = 0; }, "both have id 0"},
      {"two added same id", [](json& t) { t["added_tokens"].push_back({{"id", 6}, {"content", "x"}}); }, "two added tokens have id 6"},
      {"added id string", [](json& t) { t["added_tokens"][0]["id"] = "6"; }, "field 'added_tokens[0].id'"},
      {"added no content", [](json& t) { t["added_tokens"][0].erase("content"); }, "field 'added_tokens[0].content': missing"},
      {"special not bool", [](json& t) { t["added_tokens"][0]["special"] = "true"; }, "field 'added_tokens[0].special'"},
      {"added not array", [](json& t) { t["added_tokens"] = json::object(); }, "field 'added_tokens'"},
      {"merge no space", [](json& t) { t["model"]["merges"][0] = "he"; }, "field 'model.merges[0]'"},
      {"merge two spaces", [](json& t) { t["model"]["merges"][1] = "h e l"; }, "field 'model.merges[1]'"},
      {"merge empty side", [](json& t) { t["model"]["merges"][0] = " e"; }, "a merge side is empty"},
      {"merge pair of 3", [](json& t) { t["model"]["merges"][0] = {"h", "e", "l"}; }, "field 'model.merges[0]'"},
      {"merge pair with space", [](json& t) { t["model"]["merges"][0] = {"h ", "e"}; }, "cannot be written"},
      {"merge number", [](json& t) { t["model"]["merges"][0] = 5; }, "field 'model.merges[0]'"},
      {"merges not array", [](json& t) { t["model"]["merges"] = "h e"; }, "field 'model.merges'"},
      {"unk missing", [](json& t) { t["model"]["unk_token"] = "<unk>"; }, "field 'model.unk_token'"},
      {"suffix", [](json& t) { t["model"]["end_of_word_suffix"] = "</w>"; }, "field 'model.end_of_word_suffix'"},
      {"no style", [](json& t) { t["pre_tokenizer"] = nullptr; }, "cannot tell the tokenizer's style"},
      {"no regex", [](json& t) { t["pre_tokenizer"] = byte_level(false); }, "use_regex false"},
      {"prefix space", [](json& t) { t["pre_tokenizer"]["add_prefix_space"] = true; }, "add_prefix_space"},
      {"unknown split", [](json& t) {
         t["pre_tokenizer"] = {{"type", "Sequence"},
                               {"pretokenizers", {{{"type", "Split"}, {"pattern", {{"Regex", "\\s+"}}}}, byte_level(false)}}};
       }, "unsupported Split pattern"},
      {"digits", [](json& t) {
         t["pre_tokenizer"] = {{"type", "Sequence"}, {"pretokenizers", {{{"type", "Digits"}}, byte_level()}}};
       }, "unsupported pre-tokenizer \"Digits\""},
      {"sequence without list", [](json& t) { t["pre_tokenizer"] = {{"type", "Sequence"}}; }, "pre_tokenizer.pretokenizers"},
      {"pre no type", [](json& t) { t["pre_tokenizer"] = json::object(); }, "field 'pre_tokenizer.type': missing"},
      {"normalizer lowercase", [](json& t) { t["normalizer"] = {{"type", "Lowercase"}}; }, "unsupported normalizer"},
      {"replace other", [](json& t) {
         t["normalizer"] = {{"type", "Replace"}, {"pattern", {{"String", "x"}}}, {"content", "y"}};
       }, "unsupported Replace"},
      {"template id unknown", [](json& t) {
         t["post_processor"] = {{"type", "TemplateProcessing"}, {"single", {{{"SpecialToken", {{"id", "<nope>"}}}}}}};
       }, "not in the vocabulary"},
      {"template ids out of range", [](json& t) {
         t["post_processor"] = {{"type", "TemplateProcessing"},
                                {"single", {{{"SpecialToken", {{"id", "x"}}}}}},
                                {"special_tokens", {{"x", {{"ids", {99}}}}}}};
       }, "post_processor.special_tokens.x.ids[0]"},
      {"template single not array", [](json& t) {
         t["post_processor"] = {{"type", "TemplateProcessing"}, {"single", "$A"}};
       }, "field 'post_processor.single'"},
  };
  TempDir dir;
  for (const auto& c : cases) {
    SCOPED_TRACE(c.what);
    json t = minimal_bpe();
    c.edit(t);
    expect_error([&] { read(dir, t); }, {dir.file("tokenizer.json"), c.expect});
  }
}

TEST(HfTokenizerHostile, NotJson) {
  TempDir dir;
  const std::string path = dir.file("tokenizer.json");
  for (const std::string& text : {std::string("{\"model\":"), std::string(""), std::string("null"),
                                  std::string("{}\0garbage", 10), std::string(100000, '[')}) {
    write_file(path, text);
    expect_error([&] { hf_read_tokenizer(path); }, {path});
  }
  expect_error([&] { hf_read_tokenizer(dir.file("nope.json")); }, {"nope.json"});
}

}  // namespace
}  // namespace lowbit
