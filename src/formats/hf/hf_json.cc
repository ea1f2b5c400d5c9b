#include "formats/hf/hf_json.h"

#include <cmath>
#include <cstring>

#include "core/error.h"
#include "core/mapped_file.h"

namespace lowbit {
namespace {

// Real files nest a handful of levels (tokenizer.json: Sequence of pre-tokenizers of
// patterns); the cap only stops "[[[[..." from costing memory per level.
constexpr int kMaxDepth = 64;

std::string describe(const nlohmann::json& v) {
  if (v.is_array() || v.is_object()) return fmt::format("{} of {} elements", v.type_name(), v.size());
  if (v.is_string()) return fmt::format("string \"{}\"", hf_printable(v.get_ref<const std::string&>(), 40));
  return fmt::format("{} {}", v.type_name(), v.dump());
}

}  // namespace

std::string hf_json_message(const nlohmann::json::exception& e) {
  std::string s(e.what());
  if (!s.empty() && s[0] == '[') {
    const size_t close = s.find("] ");
    if (close != std::string::npos) s.erase(0, close + 2);
  }
  return s;
}

std::string hf_printable(std::string_view s, size_t max_bytes) {
  std::string out;
  size_t i = 0;
  for (; i < s.size() && out.size() < max_bytes; ++i) {
    const auto c = static_cast<unsigned char>(s[i]);
    if (c < 0x20 || c == 0x7f)
      out += fmt::format("\\x{:02x}", c);
    else
      out += static_cast<char>(c);
  }
  if (i < s.size()) out += "...";
  return out;
}

HfJson::HfJson(std::string path, uint64_t max_bytes) : path_(std::move(path)) {
  const auto map = MappedFile::open(path_);
  if (map->size() > max_bytes)
    fail("{}: {} bytes is larger than this file can plausibly be ({} byte limit)", path_, map->size(), max_bytes);
  const char* text = reinterpret_cast<const char*>(map->data());
  const nlohmann::json::parser_callback_t depth_cap =
      [&](int depth, nlohmann::json::parse_event_t event, nlohmann::json&) {
        if ((event == nlohmann::json::parse_event_t::object_start ||
             event == nlohmann::json::parse_event_t::array_start) && depth >= kMaxDepth)
          fail("{}: JSON nests deeper than {} levels", path_, kMaxDepth);
        return true;
      };
  // nlohmann's lexer takes a NUL byte for the end of input and would ignore what follows;
  // JSON never holds a raw NUL (strings escape it), so refuse it here.
  if (const void* nul = map->size() ? std::memchr(text, 0, map->size()) : nullptr)
    fail("{}: byte offset {}: invalid JSON: NUL byte", path_, static_cast<const char*>(nul) - text);
  try {
    root_ = nlohmann::json::parse(text, text + map->size(), depth_cap);
  } catch (const nlohmann::json::parse_error& e) {
    fail("{}: byte offset {}: invalid JSON: {}", path_, e.byte > 0 ? e.byte - 1 : 0, hf_json_message(e));
  } catch (const nlohmann::json::exception& e) {
    fail("{}: invalid JSON: {}", path_, hf_json_message(e));
  }
}

void HfJson::fail_field(std::string_view field, const std::string& why) const {
  fail("{}: field '{}': {}", path_, hf_printable(field), why);
}

const nlohmann::json* HfJson::find(const nlohmann::json& obj, const char* key) {
  if (!obj.is_object()) return nullptr;
  const auto it = obj.find(key);
  if (it == obj.end() || it->is_null()) return nullptr;
  return &*it;
}

int64_t HfJson::as_int(const nlohmann::json& v, std::string_view field, int64_t lo, int64_t hi) const {
  if (v.is_number_unsigned()) {
    const uint64_t u = v.get<uint64_t>();
    if (u >= static_cast<uint64_t>(hi)) fail_field(field, fmt::format("{} is out of range (must be below {})", u, hi));
    const auto i = static_cast<int64_t>(u);
    if (i < lo) fail_field(field, fmt::format("{} is out of range (must be at least {})", i, lo));
    return i;
  }
  if (v.is_number_integer()) {
    const int64_t i = v.get<int64_t>();
    if (i < lo || i >= hi) fail_field(field, fmt::format("{} is out of range (must be in [{}, {}))", i, lo, hi));
    return i;
  }
  fail_field(field, "expected an integer, got " + describe(v));
}

double HfJson::as_number(const nlohmann::json& v, std::string_view field) const {
  if (!v.is_number()) fail_field(field, "expected a number, got " + describe(v));
  const double d = v.get<double>();
  if (!std::isfinite(d)) fail_field(field, fmt::format("{} is not finite", d));
  return d;
}

bool HfJson::as_bool(const nlohmann::json& v, std::string_view field) const {
  if (!v.is_boolean()) fail_field(field, "expected true or false, got " + describe(v));
  return v.get<bool>();
}

const std::string& HfJson::as_string(const nlohmann::json& v, std::string_view field) const {
  if (!v.is_string()) fail_field(field, "expected a string, got " + describe(v));
  return v.get_ref<const std::string&>();
}

const nlohmann::json& HfJson::as_object(const nlohmann::json& v, std::string_view field) const {
  if (!v.is_object()) fail_field(field, "expected an object, got " + describe(v));
  return v;
}

const nlohmann::json& HfJson::as_array(const nlohmann::json& v, std::string_view field) const {
  if (!v.is_array()) fail_field(field, "expected an array, got " + describe(v));
  return v;
}

}  // namespace lowbit
