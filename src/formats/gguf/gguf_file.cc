// GgufFile: lookups and edits of metadata and tensor infos.
#include <algorithm>

#include "core/error.h"
#include "formats/gguf/gguf.h"

namespace lowbit {

const GgufValue* GgufFile::find(const std::string& key) const {
  for (const auto& [k, v] : kv)
    if (k == key) return &v;
  return nullptr;
}

const GgufTensorInfo* GgufFile::find_tensor(const std::string& name) const {
  for (const auto& t : tensors)
    if (t.name == name) return &t;
  return nullptr;
}

void GgufFile::set(const std::string& key, GgufValue v) {
  for (auto& [k, old] : kv)
    if (k == key) {
      old = std::move(v);
      return;
    }
  kv.emplace_back(key, std::move(v));
}

void GgufFile::erase(const std::string& key) {
  kv.erase(std::remove_if(kv.begin(), kv.end(), [&](const auto& p) { return p.first == key; }), kv.end());
}

std::optional<uint64_t> GgufFile::get_u64(const std::string& key) const {
  const GgufValue* v = find(key);
  if (!v) return std::nullopt;
  return v->as_u64(key);
}

std::optional<double> GgufFile::get_f64(const std::string& key) const {
  const GgufValue* v = find(key);
  if (!v) return std::nullopt;
  return v->as_f64(key);
}

std::optional<std::string> GgufFile::get_str(const std::string& key) const {
  const GgufValue* v = find(key);
  if (!v) return std::nullopt;
  return v->as_str(key);
}

}  // namespace lowbit
