// JSON text taken from an untrusted file (a safetensors header, an index.json), parsed so
// that errors can say where: nlohmann::json gives the value but no positions, so after a
// successful parse one more pass over the (now known-valid) text records the byte offset of
// every key at depth 1 and 2 -- enough to point at "tensor X, field shape". The same pass
// rejects duplicate keys, which nlohmann would silently collapse (last one wins).
//
// Internal to src/formats/safetensors/.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_map>

#include <nlohmann/json.hpp>

namespace lowbit {

class LocatedJson {
 public:
  // text sits at byte offset `base` of `file`. Nesting deeper than max_depth, invalid JSON
  // and duplicate keys (depth 1 and 2) throw Error "<file>: byte offset N: field '...': why".
  LocatedJson(std::string_view text, std::string file, uint64_t base, int max_depth);

  const nlohmann::json& value() const { return value_; }
  const std::string& file() const { return file_; }

  // File offset of the opening quote of a key; the text's start when unknown.
  uint64_t offset_of(const std::string& key) const;
  uint64_t offset_of(const std::string& key, const std::string& child) const;

  [[noreturn]] void fail_at(uint64_t offset, std::string_view field, const std::string& why) const;

 private:
  void index_keys(std::string_view text);

  nlohmann::json value_;
  std::string file_;
  uint64_t base_;
  std::unordered_map<std::string, uint64_t> top_;
  std::unordered_map<std::string, std::unordered_map<std::string, uint64_t>> child_;
};

// "number 3.5", "string \"abc\"" (clipped): what a value is, for error messages.
std::string json_describe(const nlohmann::json& v);
// Text from a file made safe to print: control bytes as \xNN, clipped to 200 bytes.
std::string printable(std::string_view s);

}  // namespace lowbit
