// Reading the JSON files of a Hugging Face model directory (config.json, tokenizer.json,
// tokenizer_config.json) without trusting them: the size and nesting are capped, and every
// typed read names the file and field path in the lowbit::Error it throws on a mismatch, so
// no nlohmann::json exception ever reaches the caller.
//
// Internal to src/formats/hf/.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

namespace lowbit {

class HfJson {
 public:
  // Reads and parses `path`; Error "<path>: byte offset N: invalid JSON: ..." etc.
  HfJson(std::string path, uint64_t max_bytes);

  const nlohmann::json& root() const { return root_; }
  const std::string& path() const { return path_; }

  [[noreturn]] void fail_field(std::string_view field, const std::string& why) const;

  // obj[key] when obj is an object holding key with a non-null value, else nullptr.
  static const nlohmann::json* find(const nlohmann::json& obj, const char* key);

  // Typed reads; `field` is the path to name in errors ("added_tokens[3].id").
  int64_t as_int(const nlohmann::json& v, std::string_view field, int64_t lo, int64_t hi) const;  // lo <= v < hi
  double as_number(const nlohmann::json& v, std::string_view field) const;                         // finite
  bool as_bool(const nlohmann::json& v, std::string_view field) const;
  const std::string& as_string(const nlohmann::json& v, std::string_view field) const;
  const nlohmann::json& as_object(const nlohmann::json& v, std::string_view field) const;
  const nlohmann::json& as_array(const nlohmann::json& v, std::string_view field) const;

 private:
  std::string path_;
  nlohmann::json root_;
};

// nlohmann's exception text without its "[json.exception.type_error.302] " prefix.
std::string hf_json_message(const nlohmann::json::exception& e);
// Text from a file made safe to print in a message: control bytes as \xNN, clipped.
std::string hf_printable(std::string_view s, size_t max_bytes = 120);

}  // namespace lowbit
