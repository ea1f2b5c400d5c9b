// A Hugging Face model directory: model.safetensors, or the shards that
// model.safetensors.index.json names in its "weight_map" {tensor name: shard file}.
//
// Shard names come from a file we do not trust, so each must be a plain relative path that
// stays inside the directory. The check is lexical (no "..", not absolute) rather than a
// canonical-path comparison: Hugging Face cache snapshots are symlinks into ../../blobs,
// which a realpath check would reject.
#include <filesystem>
#include <map>
#include <set>
#include <unordered_map>

#include "core/error.h"
#include "formats/safetensors/located_json.h"
#include "formats/safetensors/safetensors.h"

namespace lowbit {
namespace {

namespace fs = std::filesystem;

constexpr uint64_t kMaxIndexBytes = 100ull << 20;
constexpr int kMaxIndexDepth = 8;

// Why `shard` is not an acceptable shard name, or "" when it is.
std::string shard_name_problem(const std::string& shard) {
  if (shard.empty()) return "is empty";
  for (unsigned char c : shard)
    if (c < 0x20) return "contains a control character";
  const fs::path p(shard);
  if (p.is_absolute() || p.has_root_directory() || p.has_root_name()) return "is an absolute path";
  for (const auto& part : p)
    if (part == "..") return "leaves the model directory ('..')";
  return "";
}

SafetensorsFile read_index(const fs::path& dir, const std::string& index_path) {
  auto map = MappedFile::open(index_path);
  if (map->size() > kMaxIndexBytes)
    fail("{}: byte offset 0: field 'header': {} bytes is more than an index can need ({} limit)", index_path,
         map->size(), kMaxIndexBytes);
  const std::string_view text(reinterpret_cast<const char*>(map->data()), map->size());
  const LocatedJson idx(text, index_path, 0, kMaxIndexDepth);
  const auto& root = idx.value();
  if (!root.is_object()) idx.fail_at(0, "header", "expected a JSON object, got " + json_describe(root));
  if (!root.contains("weight_map")) idx.fail_at(0, "weight_map", "missing (a sharded model's index maps tensor names to shard files)");
  const auto& wm = root.at("weight_map");
  if (!wm.is_object()) idx.fail_at(idx.offset_of("weight_map"), "weight_map", "expected an object, got " + json_describe(wm));

  // Shards sorted by name (model-00001-of-0000N, ...); "./x" and "x" are one shard.
  std::set<std::string> shards;
  std::unordered_map<std::string, std::string> wanted;   // tensor -> shard as the index says
  for (const auto& [name, shard] : wm.items()) {
    const uint64_t at = idx.offset_of("weight_map", name);
    const std::string field = "weight_map." + name;
    if (!shard.is_string()) idx.fail_at(at, field, "expected a shard file name, got " + json_describe(shard));
    const auto& s = shard.get_ref<const std::string&>();
    if (const std::string why = shard_name_problem(s); !why.empty())
      idx.fail_at(at, field, fmt::format("shard name \"{}\" {}", printable(s), why));
    const std::string norm = fs::path(s).lexically_normal().string();
    std::error_code ec;
    if (!shards.count(norm) && !fs::is_regular_file(dir / norm, ec))
      idx.fail_at(at, field, fmt::format("shard \"{}\" does not exist in {} (incomplete download?)", printable(s), dir.string()));
    shards.insert(norm);
    wanted.emplace(name, norm);
  }
  if (shards.empty()) idx.fail_at(idx.offset_of("weight_map"), "weight_map", "lists no tensors");

  SafetensorsFile out;
  std::unordered_map<std::string, std::string> found;   // tensor -> shard it is in
  for (const std::string& shard : shards) {
    SafetensorsFile f = safetensors_read((dir / shard).string());
    for (auto& t : f.tensors) {
      auto [it, fresh] = found.emplace(t.name, shard);
      if (!fresh)
        idx.fail_at(idx.offset_of("weight_map", t.name), "weight_map." + t.name,
                    fmt::format("tensor is in two shards: \"{}\" and \"{}\"", it->second, shard));
      out.tensors.push_back(std::move(t));
    }
    for (auto& [k, v] : f.metadata) out.metadata.emplace(k, v);
    out.maps.push_back(std::move(f.maps.at(0)));
  }
  for (const auto& [name, s] : wanted) {
    const auto it = found.find(name);
    if (it == found.end())
      idx.fail_at(idx.offset_of("weight_map", name), "weight_map." + name,
                  fmt::format("tensor is not in shard \"{}\" (nor in any other shard)", s));
    if (it->second != s)
      idx.fail_at(idx.offset_of("weight_map", name), "weight_map." + name,
                  fmt::format("tensor is in shard \"{}\", not in \"{}\" as the index says", it->second, s));
  }
  return out;
}

}  // namespace

SafetensorsFile safetensors_read_dir(const std::string& dir) {
  const fs::path d(dir);
  std::error_code ec;
  if (fs::is_regular_file(d, ec)) return safetensors_read(dir);
  if (!fs::is_directory(d, ec)) fail("{}: not a directory or a .safetensors file", dir);
  if (fs::is_regular_file(d / "model.safetensors", ec)) return safetensors_read((d / "model.safetensors").string());
  const fs::path index = d / "model.safetensors.index.json";
  if (fs::is_regular_file(index, ec)) return read_index(d, index.string());
  fail("{}: no model.safetensors or model.safetensors.index.json (not a Hugging Face model directory?)", dir);
}

}  // namespace lowbit
