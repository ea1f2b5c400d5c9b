#include "formats/safetensors/located_json.h"

#include <vector>

#include "core/error.h"

namespace lowbit {
namespace {

// nlohmann's messages start "[json.exception.parse_error.101] "; the id helps nobody.
std::string strip_exception_id(const char* what) {
  std::string s(what);
  if (!s.empty() && s[0] == '[') {
    const size_t close = s.find("] ");
    if (close != std::string::npos) s.erase(0, close + 2);
  }
  return s;
}

}  // namespace

LocatedJson::LocatedJson(std::string_view text, std::string file, uint64_t base, int max_depth)
    : file_(std::move(file)), base_(base) {
  // The parser itself is iterative, but every nesting level costs memory; a cap keeps
  // "[[[[..." from turning a small file into a large allocation.
  const nlohmann::json::parser_callback_t depth_cap =
      [&](int depth, nlohmann::json::parse_event_t event, nlohmann::json&) {
        if ((event == nlohmann::json::parse_event_t::object_start ||
             event == nlohmann::json::parse_event_t::array_start) && depth >= max_depth)
          fail_at(base_, "header", fmt::format("JSON nests deeper than {} levels", max_depth));
        return true;
      };
  // nlohmann's lexer takes a NUL byte for the end of input and would ignore what follows;
  // JSON never holds a raw NUL (strings escape it), so refuse it here.
  if (const size_t nul = text.find('\0'); nul != std::string_view::npos)
    fail_at(base_ + nul, "header", "invalid JSON: NUL byte");
  try {
    value_ = nlohmann::json::parse(text.begin(), text.end(), depth_cap);
  } catch (const nlohmann::json::parse_error& e) {
    const uint64_t at = e.byte > 0 ? e.byte - 1 : 0;
    fail_at(base_ + at, "header", "invalid JSON: " + strip_exception_id(e.what()));
  } catch (const nlohmann::json::exception& e) {
    fail_at(base_, "header", "invalid JSON: " + strip_exception_id(e.what()));
  }
  index_keys(text);
}

// Walks text that nlohmann has accepted, so strings are terminated and brackets balance.
void LocatedJson::index_keys(std::string_view text) {
  struct Frame {
    bool object;
    bool expect_key;
  };
  std::vector<Frame> stack;
  std::string top_key;
  size_t i = 0;
  const size_t n = text.size();
  while (i < n) {
    const char c = text[i];
    if (c == '{' || c == '[') {
      stack.push_back({c == '{', c == '{'});
      ++i;
    } else if (c == '}' || c == ']') {
      if (!stack.empty()) stack.pop_back();
      ++i;
    } else if (c == ',') {
      if (!stack.empty() && stack.back().object) stack.back().expect_key = true;
      ++i;
    } else if (c == ':') {
      if (!stack.empty()) stack.back().expect_key = false;
      ++i;
    } else if (c == '"') {
      const size_t start = i++;
      while (i < n && text[i] != '"') i += text[i] == '\\' ? 2 : 1;
      const size_t end = std::min(i + 1, n);
      i = end;
      const size_t depth = stack.size();
      if (depth == 0 || depth > 2 || !stack.back().object || !stack.back().expect_key || !stack[0].object)
        continue;
      const std::string_view raw = text.substr(start + 1, end - start - 2);
      std::string key(raw);
      if (raw.find('\\') != std::string_view::npos) {
        try {
          key = nlohmann::json::parse(text.substr(start, end - start)).get<std::string>();
        } catch (const nlohmann::json::exception&) {   // cannot happen on text nlohmann accepted
          fail_at(base_ + start, "header", "invalid JSON string");
        }
      }
      const uint64_t at = base_ + start;
      if (depth == 1) {
        if (!top_.emplace(key, at).second) fail_at(at, key, "appears twice");
        top_key = std::move(key);
      } else if (!child_[top_key].emplace(key, at).second) {
        fail_at(at, top_key + "." + key, "appears twice");
      }
    } else {
      ++i;
    }
  }
}

uint64_t LocatedJson::offset_of(const std::string& key) const {
  const auto it = top_.find(key);
  return it == top_.end() ? base_ : it->second;
}

uint64_t LocatedJson::offset_of(const std::string& key, const std::string& child) const {
  const auto it = child_.find(key);
  if (it == child_.end()) return offset_of(key);
  const auto jt = it->second.find(child);
  return jt == it->second.end() ? offset_of(key) : jt->second;
}

void LocatedJson::fail_at(uint64_t offset, std::string_view field, const std::string& why) const {
  fail("{}: byte offset {}: field '{}': {}", file_, offset, printable(field), why);
}

std::string printable(std::string_view s) {
  constexpr size_t kMax = 200;
  std::string out;
  size_t i = 0;
  for (; i < s.size() && out.size() < kMax; ++i) {
    const auto c = static_cast<unsigned char>(s[i]);
    if (c < 0x20 || c == 0x7f)
      out += fmt::format("\\x{:02x}", c);
    else
      out += static_cast<char>(c);
  }
  if (i < s.size()) out += "...";
  return out;
}

std::string json_describe(const nlohmann::json& v) {
  if (v.is_array() || v.is_object()) return fmt::format("{} of {} elements", v.type_name(), v.size());
  if (v.is_string()) {
    const auto& s = v.get_ref<const std::string&>();
    return s.size() > 40 ? fmt::format("string \"{}...\"", printable(s.substr(0, 37))) : fmt::format("string \"{}\"", printable(s));
  }
  return fmt::format("{} {}", v.type_name(), v.dump());
}

}  // namespace lowbit
