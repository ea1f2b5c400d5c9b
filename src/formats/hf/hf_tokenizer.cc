// tokenizer.json (+ tokenizer_config.json) -> Vocab; the two supported styles are described
// in hf_tokenizer.h. Choices made here, where the file leaves room:
//
//  - Ids: the model's vocab map plus added_tokens should cover 0..N-1. Holes are filled with
//    "[PAD{id}]" typed unused (as llama.cpp's convert_hf_to_gguf.py does), so ids stay the
//    embedding rows they index. A file with more holes than tokens (+1024) is refused: it is
//    not a tokenizer, and filling it would be an allocation the file did not pay for.
//  - An added token whose id the vocab map also uses replaces that entry's text (added
//    tokens are what the tokenizers library matches first).
//  - SentencePiece style: llama.cpp's SPM tokenizer merges the adjacent pair whose
//    concatenation has the highest score, so a token made by a merge scores -(rank of the
//    first merge producing it): earlier merges win, as BPE ranks do. Tokens no merge
//    produces (single characters, <0xNN> bytes, unreachable pieces) score -1e9, below every
//    merge; control, unknown and user-defined tokens score 0, as in SentencePiece models.
//    Vocab::merges stays empty for SPM (GGUF "llama" vocabularies carry none).
//  - bos/eos/pad from tokenizer_config.json must name tokens in the vocabulary (pad may be
//    absent from it: some configs name a pad token the model never had).
#include "formats/hf/hf_tokenizer.h"

#include <filesystem>
#include <optional>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "core/error.h"
#include "formats/hf/hf_json.h"

namespace lowbit {
namespace {

using nlohmann::json;

constexpr uint64_t kMaxTokenizerBytes = 512ull << 20;
constexpr uint64_t kMaxConfigBytes = 16ull << 20;
constexpr int64_t kMaxVocab = 1 << 24;
constexpr int64_t kMaxHoles = 1024;
constexpr float kScoreNoMerge = -1e9f;
constexpr std::string_view kSpmSpace = "\xe2\x96\x81";   // U+2581 LOWER ONE EIGHTH BLOCK
// The pre-tokenizer regex of Llama 3 (tiktoken cl100k_base), as tokenizer.json stores it.
constexpr std::string_view kLlama3Regex =
    R"((?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)";

struct Component {
  const json* v;
  std::string field;
  std::string type;
};

// The components of a normalizer / pre_tokenizer / post_processor, with "Sequence"
// wrappers ({"type":"Sequence", list_key:[...]}) flattened out.
void flatten(const HfJson& f, const json& v, const std::string& field, const char* list_key, std::vector<Component>& out) {
  f.as_object(v, field);
  const auto* t = HfJson::find(v, "type");
  if (!t) f.fail_field(field + ".type", "missing");
  const std::string& type = f.as_string(*t, field + ".type");
  if (type != "Sequence") {
    out.push_back({&v, field, type});
    return;
  }
  const auto* list = HfJson::find(v, list_key);
  if (!list) f.fail_field(field + "." + list_key, "missing");
  const auto& arr = f.as_array(*list, field + "." + list_key);
  for (size_t i = 0; i < arr.size(); ++i)
    flatten(f, arr[i], fmt::format("{}.{}[{}]", field, list_key, i), list_key, out);
}

std::vector<Component> components(const HfJson& f, const char* key, const char* list_key) {
  std::vector<Component> out;
  if (const auto* v = HfJson::find(f.root(), key)) flatten(f, *v, key, list_key, out);
  return out;
}

bool is_byte_token(const std::string& s) {
  const auto hex = [](char c) { return (c >= '0' && c <= '9') || (c >= 'A' && c <= 'F'); };
  return s.size() == 6 && s.compare(0, 3, "<0x") == 0 && hex(s[3]) && hex(s[4]) && s[5] == '>';
}

// What the normalizer and pre-tokenizer say about the tokenizer's style.
struct Style {
  bool byte_level = false;         // a ByteLevel pre-tokenizer
  bool byte_level_regex = false;   // ... splitting with the GPT-2 regex (use_regex)
  bool llama3_split = false;       // a Split with the Llama 3 regex
  bool spm_space = false;          // " " -> "▁" (normalizer Replace, or Metaspace)
  bool spm_prepend = false;        // "▁" prepended (normalizer Prepend, or Metaspace)
};

Style read_style(const HfJson& f) {
  Style s;
  for (const auto& c : components(f, "pre_tokenizer", "pretokenizers")) {
    const json& p = *c.v;
    if (c.type == "ByteLevel") {
      s.byte_level = true;
      const auto* r = HfJson::find(p, "use_regex");
      s.byte_level_regex = r ? f.as_bool(*r, c.field + ".use_regex") : true;
      const auto* aps = HfJson::find(p, "add_prefix_space");
      if (aps && f.as_bool(*aps, c.field + ".add_prefix_space"))
        f.fail_field(c.field + ".add_prefix_space", "true is not supported (llama.cpp's BPE tokenizer adds no space)");
    } else if (c.type == "Split") {
      const auto* pat = HfJson::find(p, "pattern");
      if (!pat) f.fail_field(c.field + ".pattern", "missing");
      const auto* re = HfJson::find(f.as_object(*pat, c.field + ".pattern"), "Regex");
      const std::string regex = re ? f.as_string(*re, c.field + ".pattern.Regex") : "";
      if (regex != kLlama3Regex)
        f.fail_field(c.field + ".pattern", fmt::format("unsupported Split pattern {} (lowbit knows the GPT-2 ByteLevel regex and the Llama 3 one)",
                                                       hf_printable(pat->dump(), 80)));
      s.llama3_split = true;
    } else if (c.type == "Metaspace") {
      if (const auto* r = HfJson::find(p, "replacement"); r && f.as_string(*r, c.field + ".replacement") != kSpmSpace)
        f.fail_field(c.field + ".replacement", "only \"\xe2\x96\x81\" is supported");
      s.spm_space = true;
      if (const auto* ps = HfJson::find(p, "prepend_scheme")) {
        const std::string& scheme = f.as_string(*ps, c.field + ".prepend_scheme");
        if (scheme != "first" && scheme != "always" && scheme != "never")
          f.fail_field(c.field + ".prepend_scheme", fmt::format("unknown scheme \"{}\"", hf_printable(scheme, 40)));
        s.spm_prepend = scheme != "never";
      } else if (const auto* aps = HfJson::find(p, "add_prefix_space")) {
        s.spm_prepend = f.as_bool(*aps, c.field + ".add_prefix_space");
      } else {
        s.spm_prepend = true;   // the tokenizers library's default scheme is "always"
      }
    } else {
      f.fail_field(c.field + ".type", fmt::format("unsupported pre-tokenizer \"{}\" (supported: ByteLevel, Split with the Llama 3 regex, Metaspace)",
                                                  hf_printable(c.type, 40)));
    }
  }
  for (const auto& c : components(f, "normalizer", "normalizers")) {
    const json& n = *c.v;
    if (c.type == "Replace") {
      const auto* pat = HfJson::find(n, "pattern");
      const auto* str = pat ? HfJson::find(f.as_object(*pat, c.field + ".pattern"), "String") : nullptr;
      const auto* content = HfJson::find(n, "content");
      if (!str || !content || f.as_string(*str, c.field + ".pattern.String") != " " ||
          f.as_string(*content, c.field + ".content") != kSpmSpace)
        f.fail_field(c.field, "unsupported Replace (only \" \" -> \"\xe2\x96\x81\", SentencePiece style)");
      s.spm_space = true;
    } else if (c.type == "Prepend") {
      const auto* pre = HfJson::find(n, "prepend");
      if (!pre || f.as_string(*pre, c.field + ".prepend") != kSpmSpace)
        f.fail_field(c.field, "unsupported Prepend (only \"\xe2\x96\x81\", SentencePiece style)");
      s.spm_prepend = true;
    } else if (c.type != "NFC") {   // NFC is a no-op on NFC text; llama.cpp skips it too
      f.fail_field(c.field + ".type", fmt::format("unsupported normalizer \"{}\"", hf_printable(c.type, 40)));
    }
  }
  return s;
}

// A merge as "left right", from "left right" or ["left", "right"].
std::string read_merge(const HfJson& f, const json& m, const std::string& field) {
  std::string left, right;
  if (m.is_string()) {
    const std::string& s = m.get_ref<const std::string&>();
    const size_t sp = s.find(' ');
    if (sp == std::string::npos || s.find(' ', sp + 1) != std::string::npos)
      f.fail_field(field, fmt::format("expected \"left right\" (one space), got \"{}\"", hf_printable(s, 60)));
    left = s.substr(0, sp);
    right = s.substr(sp + 1);
  } else if (m.is_array() && m.size() == 2) {
    left = f.as_string(m[0], field + "[0]");
    right = f.as_string(m[1], field + "[1]");
    if (left.find(' ') != std::string::npos || right.find(' ') != std::string::npos)
      f.fail_field(field, "a merge of tokens holding a space cannot be written as \"left right\"");
  } else {
    f.fail_field(field, "expected \"left right\" or [\"left\", \"right\"]");
  }
  if (left.empty() || right.empty()) f.fail_field(field, "a merge side is empty");
  return left + " " + right;
}

// The token a bos_token / eos_token / pad_token field names: "text" or {"content": "text"}.
std::optional<std::string> token_content(const HfJson& f, const json& obj, const char* key) {
  const auto* v = HfJson::find(obj, key);
  if (!v) return std::nullopt;
  if (v->is_string()) return v->get<std::string>();
  const auto* c = HfJson::find(f.as_object(*v, key), "content");
  if (!c) f.fail_field(std::string(key) + ".content", "missing");
  return f.as_string(*c, std::string(key) + ".content");
}

// What the post_processor's TemplateProcessing adds around a single sequence.
struct Template {
  int32_t first_special = -1;   // token before the sequence ("$A"), if any
  int32_t last_special = -1;    // token after it, if any
};

class TokenizerReader {
 public:
  TokenizerReader(const std::string& path, const std::string& config_path)
      : f_(path, kMaxTokenizerBytes), config_path_(config_path) {}

  Vocab read() {
    if (!f_.root().is_object()) f_.fail_field("(top level)", "expected a JSON object");
    const auto* m = HfJson::find(f_.root(), "model");
    if (!m) f_.fail_field("model", "missing");
    model_ = &f_.as_object(*m, "model");
    check_model_type();
    read_tokens();
    const Style style = read_style(f_);
    read_merges();
    if (style.byte_level) {
      v_.kind = VocabKind::Bpe;
      if (!style.llama3_split && !style.byte_level_regex)
        f_.fail_field("pre_tokenizer", "ByteLevel with use_regex false and no Split: no pre-tokenizer regex to apply");
      v_.pre = style.llama3_split ? "llama-bpe" : "gpt-2";
      v_.add_space_prefix = false;
    } else if (style.spm_space) {
      v_.kind = VocabKind::Spm;
      if (style.llama3_split) f_.fail_field("pre_tokenizer", "a Split regex with SentencePiece-style spaces is not supported");
      v_.pre = "default";
      v_.add_space_prefix = style.spm_prepend;
    } else {
      f_.fail_field("pre_tokenizer",
                    "cannot tell the tokenizer's style: expected a ByteLevel pre-tokenizer (GPT-2 byte-level BPE) or "
                    "a normalizer replacing \" \" with \"\xe2\x96\x81\" (SentencePiece BPE)");
    }
    read_unk();
    if (v_.kind == VocabKind::Spm) spm_types_and_scores();
    read_specials();
    return std::move(v_);
  }

 private:
  void check_model_type() {
    const auto* t = HfJson::find(*model_, "type");
    const std::string type = t ? f_.as_string(*t, "model.type") : "BPE";   // old files omit it for BPE
    if (type != "BPE")
      f_.fail_field("model.type", fmt::format("\"{}\" is not supported (lowbit reads BPE tokenizers)", hf_printable(type, 40)));
    for (const char* key : {"continuing_subword_prefix", "end_of_word_suffix"})
      if (const auto* v = HfJson::find(*model_, key); v && !f_.as_string(*v, std::string("model.") + key).empty())
        f_.fail_field(std::string("model.") + key, "is not supported");
  }

  void read_tokens() {
    const auto* vm = HfJson::find(*model_, "vocab");
    if (!vm) f_.fail_field("model.vocab", "missing");
    const auto& vocab = f_.as_object(*vm, "model.vocab");
    std::vector<std::pair<int64_t, const std::string*>> entries;
    entries.reserve(vocab.size());
    int64_t n = 0;
    for (const auto& [tok, id] : vocab.items()) {
      const int64_t i = f_.as_int(id, "model.vocab." + tok, 0, kMaxVocab);
      entries.emplace_back(i, &tok);
      n = std::max(n, i + 1);
    }
    struct Added {
      int64_t id;
      const std::string* content;
      bool special;
    };
    std::vector<Added> added;
    if (const auto* at = HfJson::find(f_.root(), "added_tokens")) {
      const auto& arr = f_.as_array(*at, "added_tokens");
      for (size_t k = 0; k < arr.size(); ++k) {
        const std::string field = fmt::format("added_tokens[{}]", k);
        const auto& a = f_.as_object(arr[k], field);
        const auto* id = HfJson::find(a, "id");
        const auto* content = HfJson::find(a, "content");
        if (!id) f_.fail_field(field + ".id", "missing");
        if (!content) f_.fail_field(field + ".content", "missing");
        const auto* special = HfJson::find(a, "special");
        added.push_back({f_.as_int(*id, field + ".id", 0, kMaxVocab), &f_.as_string(*content, field + ".content"),
                         special && f_.as_bool(*special, field + ".special")});
        n = std::max(n, added.back().id + 1);
      }
    }
    if (n == 0) f_.fail_field("model.vocab", "is empty");
    const int64_t defined = static_cast<int64_t>(entries.size() + added.size());
    if (n - defined > defined + kMaxHoles)
      f_.fail_field("model.vocab", fmt::format("ids reach {} but only {} tokens are defined", n - 1, defined));

    v_.tokens.assign(static_cast<size_t>(n), std::string());
    v_.types.assign(static_cast<size_t>(n), 0);
    for (const auto& [id, tok] : entries) {
      if (v_.types[id] != 0)
        f_.fail_field("model.vocab", fmt::format("tokens \"{}\" and \"{}\" both have id {}", hf_printable(v_.tokens[id], 40),
                                                 hf_printable(*tok, 40), id));
      v_.tokens[id] = *tok;
      v_.types[id] = kTokNormal;
    }
    std::vector<bool> added_seen(static_cast<size_t>(n), false);
    for (const auto& a : added) {
      if (added_seen[a.id]) f_.fail_field("added_tokens", fmt::format("two added tokens have id {}", a.id));
      added_seen[a.id] = true;
      v_.tokens[a.id] = *a.content;
      v_.types[a.id] = a.special ? kTokControl : kTokUserDefined;
    }
    for (int64_t id = 0; id < n; ++id) {
      if (v_.types[id] != 0) continue;
      v_.tokens[id] = fmt::format("[PAD{}]", id);
      v_.types[id] = kTokUnused;
    }
    // Text -> id: added tokens first (they are matched first), then the vocab map.
    for (const auto& a : added) ids_.emplace(*a.content, static_cast<int32_t>(a.id));
    for (int64_t id = 0; id < n; ++id)
      if (v_.types[id] == kTokNormal) ids_.emplace(v_.tokens[id], static_cast<int32_t>(id));
  }

  void read_merges() {
    const auto* mm = HfJson::find(*model_, "merges");
    if (!mm) return;   // a BPE without merges: every token is matched whole
    const auto& merges = f_.as_array(*mm, "model.merges");
    v_.merges.reserve(merges.size());
    for (size_t i = 0; i < merges.size(); ++i) v_.merges.push_back(read_merge(f_, merges[i], fmt::format("model.merges[{}]", i)));
  }

  void read_unk() {
    const auto* u = HfJson::find(*model_, "unk_token");
    if (!u) return;
    const std::string& text = f_.as_string(*u, "model.unk_token");
    v_.unk = lookup(text, "model.unk_token");
    v_.types[v_.unk] = kTokUnknown;
  }

  void spm_types_and_scores() {
    std::vector<int64_t> rank(v_.tokens.size(), -1);
    for (size_t r = 0; r < v_.merges.size(); ++r) {
      std::string joined = v_.merges[r];
      joined.erase(joined.find(' '), 1);
      const auto it = ids_.find(joined);
      if (it != ids_.end() && rank[it->second] < 0) rank[it->second] = static_cast<int64_t>(r);
    }
    v_.scores.assign(v_.tokens.size(), 0.0f);
    for (size_t id = 0; id < v_.tokens.size(); ++id) {
      if (v_.types[id] == kTokNormal && is_byte_token(v_.tokens[id])) v_.types[id] = kTokByte;
      if (v_.types[id] == kTokNormal || v_.types[id] == kTokByte || v_.types[id] == kTokUnused)
        v_.scores[id] = rank[id] >= 0 ? static_cast<float>(-rank[id]) : kScoreNoMerge;
    }
    v_.merges.clear();
  }

  Template read_template() {
    Template t;
    for (const auto& c : components(f_, "post_processor", "processors")) {
      if (c.type != "TemplateProcessing") continue;
      const json& p = *c.v;
      const auto* single = HfJson::find(p, "single");
      if (!single) continue;
      const auto& items = f_.as_array(*single, c.field + ".single");
      for (size_t i = 0; i < items.size(); ++i) {
        const std::string field = fmt::format("{}.single[{}]", c.field, i);
        const auto* sp = HfJson::find(f_.as_object(items[i], field), "SpecialToken");
        if (!sp) continue;
        const auto* name = HfJson::find(f_.as_object(*sp, field + ".SpecialToken"), "id");
        if (!name) f_.fail_field(field + ".SpecialToken.id", "missing");
        const int32_t id = template_token_id(p, c.field, f_.as_string(*name, field + ".SpecialToken.id"));
        if (i == 0) t.first_special = id;
        if (i + 1 == items.size() && i > 0) t.last_special = id;
      }
    }
    return t;
  }

  // A template's special token: its "ids" in special_tokens, else the token of that name.
  int32_t template_token_id(const json& p, const std::string& field, const std::string& name) {
    if (const auto* st = HfJson::find(p, "special_tokens")) {
      if (const auto* e = HfJson::find(f_.as_object(*st, field + ".special_tokens"), name.c_str())) {
        const std::string ef = field + ".special_tokens." + name;
        if (const auto* ids = HfJson::find(f_.as_object(*e, ef), "ids")) {
          const auto& arr = f_.as_array(*ids, ef + ".ids");
          if (arr.size() != 1) f_.fail_field(ef + ".ids", "expected exactly one id");
          return static_cast<int32_t>(f_.as_int(arr[0], ef + ".ids[0]", 0, static_cast<int64_t>(v_.tokens.size())));
        }
      }
    }
    return lookup(name, field);
  }

  void read_specials() {
    const Template tmpl = read_template();
    v_.bos = tmpl.first_special;
    v_.eos = tmpl.last_special;
    v_.add_bos = tmpl.first_special >= 0;
    v_.add_eos = tmpl.last_special >= 0;

    std::string cfg = config_path_;
    if (cfg.empty()) {
      const auto sibling = std::filesystem::path(f_.path()).parent_path() / "tokenizer_config.json";
      std::error_code ec;
      if (std::filesystem::is_regular_file(sibling, ec)) cfg = sibling.string();
    }
    if (cfg.empty()) return;
    const HfJson c(cfg, kMaxConfigBytes);
    if (!c.root().is_object()) c.fail_field("(top level)", "expected a JSON object");
    const auto named = [&](const char* key) -> int32_t {
      const auto text = token_content(c, c.root(), key);
      if (!text) return -2;
      const auto it = ids_.find(*text);
      if (it == ids_.end()) {
        if (std::string_view(key) == "pad_token") return -1;
        c.fail_field(key, fmt::format("token \"{}\" is not in the vocabulary of {}", hf_printable(*text, 60), f_.path()));
      }
      return it->second;
    };
    if (const int32_t id = named("bos_token"); id != -2) v_.bos = id;
    if (const int32_t id = named("eos_token"); id != -2) v_.eos = id;
    if (const int32_t id = named("pad_token"); id != -2) v_.pad = id;
    if (const auto* b = HfJson::find(c.root(), "add_bos_token")) v_.add_bos = c.as_bool(*b, "add_bos_token");
    if (const auto* e = HfJson::find(c.root(), "add_eos_token")) v_.add_eos = c.as_bool(*e, "add_eos_token");
  }

  int32_t lookup(const std::string& text, const std::string& field) const {
    const auto it = ids_.find(text);
    if (it == ids_.end()) f_.fail_field(field, fmt::format("token \"{}\" is not in the vocabulary", hf_printable(text, 60)));
    return it->second;
  }

  HfJson f_;
  std::string config_path_;
  const json* model_ = nullptr;
  Vocab v_;
  std::unordered_map<std::string, int32_t> ids_;
};

}  // namespace

Vocab hf_read_tokenizer(const std::string& tokenizer_json, const std::string& tokenizer_config_json) {
  try {
    return TokenizerReader(tokenizer_json, tokenizer_config_json).read();
  } catch (const nlohmann::json::exception& e) {   // a safety net: the typed reads should catch everything
    fail("{}: {}", tokenizer_json, hf_json_message(e));
  }
}

}  // namespace lowbit
