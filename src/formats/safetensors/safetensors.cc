// One safetensors file: the header length, the JSON header, and every entry checked against
// the bytes actually present before any pointer into the map is handed out.
#include "formats/safetensors/safetensors.h"

#include <algorithm>
#include <array>
#include <limits>
#include <optional>
#include <string_view>

#include "core/byte_reader.h"
#include "core/error.h"
#include "formats/safetensors/located_json.h"

namespace lowbit {
namespace {

// The header is small in practice (a few hundred KB for the largest models); the Rust
// reference caps it at 100 MB too, and the cap bounds what nlohmann may allocate.
constexpr uint64_t kMaxHeaderBytes = 100ull << 20;
constexpr int kMaxJsonDepth = 8;   // a valid header nests 3 deep: {name: {shape: [..]}}

// The dtypes of huggingface/safetensors (Rust enum Dtype), with bits per element: the
// sub-byte float formats (F4, F6_*) pack elements, so sizes are counted in bits and a
// tensor must come to a whole number of bytes. lowbit computes with the three that map to a
// GgmlType; the rest can be listed and inspected but not loaded.
struct DtypeTraits {
  std::string_view name;
  uint32_t bits;
  std::optional<GgmlType> ggml;
};

constexpr std::array<DtypeTraits, 20> kDtypes{{
    {"BOOL", 8, std::nullopt},     {"U8", 8, std::nullopt},       {"I8", 8, std::nullopt},
    {"F8_E5M2", 8, std::nullopt},  {"F8_E4M3", 8, std::nullopt},  {"F8_E8M0", 8, std::nullopt},
    {"I16", 16, std::nullopt},     {"U16", 16, std::nullopt},     {"F16", 16, GgmlType::F16},
    {"BF16", 16, GgmlType::BF16},  {"I32", 32, std::nullopt},     {"U32", 32, std::nullopt},
    {"F32", 32, GgmlType::F32},    {"F64", 64, std::nullopt},     {"I64", 64, std::nullopt},
    {"U64", 64, std::nullopt},     {"C64", 64, std::nullopt},     {"F4", 4, std::nullopt},
    {"F6_E2M3", 6, std::nullopt},  {"F6_E3M2", 6, std::nullopt},
}};

const DtypeTraits* find_dtype(std::string_view name) {
  for (const auto& d : kDtypes)
    if (d.name == name) return &d;
  return nullptr;
}

std::string dtype_list() {
  std::string s;
  for (const auto& d : kDtypes) s += (s.empty() ? "" : ", ") + std::string(d.name);
  return s;
}

struct Span {
  uint64_t begin, end;
  size_t tensor;
};

// Checks one header entry and appends it to `out`. `data_size` is the bytes after the header.
void parse_entry(const LocatedJson& hdr, const std::string& name, const nlohmann::json& e,
                 uint64_t data_size, SafetensorsFile& out, std::vector<Span>& spans) {
  const auto at = [&](const char* field) { return hdr.offset_of(name, field); };
  const auto fail_field = [&](const char* field, const std::string& why) {
    hdr.fail_at(at(field), name + "." + field, why);
  };
  if (!e.is_object()) hdr.fail_at(hdr.offset_of(name), name, "expected an object {dtype, shape, data_offsets}, got " + json_describe(e));
  for (const char* field : {"dtype", "shape", "data_offsets"})
    if (!e.contains(field)) hdr.fail_at(hdr.offset_of(name), name, fmt::format("missing '{}'", field));

  SafetensorsTensor t;
  t.name = name;
  t.file = hdr.file();

  const auto& dt = e.at("dtype");
  if (!dt.is_string()) fail_field("dtype", "expected a string, got " + json_describe(dt));
  t.dtype = dt.get<std::string>();
  const DtypeTraits* traits = find_dtype(t.dtype);
  if (!traits) fail_field("dtype", fmt::format("unknown dtype \"{}\" (known: {})", t.dtype, dtype_list()));

  const auto& shape = e.at("shape");
  if (!shape.is_array()) fail_field("shape", "expected an array of integers, got " + json_describe(shape));
  uint64_t count = 1;
  for (size_t i = 0; i < shape.size(); ++i) {
    const auto& d = shape[i];
    if (d.is_number_integer() && !d.is_number_unsigned())
      fail_field("shape", fmt::format("dimension {} is negative ({})", i, d.get<int64_t>()));
    if (!d.is_number_unsigned()) fail_field("shape", fmt::format("dimension {} is not a non-negative integer: {}", i, json_describe(d)));
    const uint64_t v = d.get<uint64_t>();
    if (v > static_cast<uint64_t>(std::numeric_limits<int64_t>::max()))
      fail_field("shape", fmt::format("dimension {} is too large ({})", i, v));
    if (mul_overflows(count, v, &count))
      fail_field("shape", fmt::format("element count overflows 64 bits (shape {})", shape.dump()));
    t.shape.push_back(static_cast<int64_t>(v));
  }
  uint64_t bits = 0;
  if (mul_overflows(count, traits->bits, &bits))
    fail_field("shape", fmt::format("size in bytes overflows 64 bits ({} elements of {})", count, t.dtype));
  if (bits % 8 != 0)
    fail_field("shape", fmt::format("{} elements of {} ({} bits each) are not a whole number of bytes", count, t.dtype, traits->bits));
  t.nbytes = bits / 8;

  const auto& offs = e.at("data_offsets");
  if (!offs.is_array() || offs.size() != 2 || !offs[0].is_number_unsigned() || !offs[1].is_number_unsigned())
    fail_field("data_offsets", "expected [begin, end] (two non-negative integers), got " + json_describe(offs));
  const uint64_t begin = offs[0].get<uint64_t>(), end = offs[1].get<uint64_t>();
  if (begin > end) fail_field("data_offsets", fmt::format("begin {} is after end {}", begin, end));
  if (end > data_size)
    fail_field("data_offsets", fmt::format("end {} is past the end of the data ({} bytes; truncated file?)", end, data_size));
  if (end - begin != t.nbytes)
    fail_field("data_offsets", fmt::format("holds {} bytes but shape {} of {} needs {}", end - begin, shape.dump(), t.dtype, t.nbytes));
  spans.push_back({begin, end, out.tensors.size()});
  out.tensors.push_back(std::move(t));
}

void parse_metadata(const LocatedJson& hdr, const nlohmann::json& m, SafetensorsFile& out) {
  if (!m.is_object()) hdr.fail_at(hdr.offset_of("__metadata__"), "__metadata__", "expected an object of strings, got " + json_describe(m));
  for (const auto& [k, v] : m.items()) {
    if (!v.is_string())
      hdr.fail_at(hdr.offset_of("__metadata__", k), "__metadata__." + k, "metadata values must be strings, got " + json_describe(v));
    out.metadata[k] = v.get<std::string>();
  }
}

}  // namespace

uint32_t safetensors_dtype_bits(std::string_view dtype) {
  const DtypeTraits* d = find_dtype(dtype);
  return d ? d->bits : 0;
}

TensorRef SafetensorsTensor::ref() const {
  const DtypeTraits* d = find_dtype(dtype);
  if (!d || !d->ggml)
    fail("{}: tensor '{}': dtype {} is not one lowbit computes with (F32, F16, BF16)", file, printable(name), dtype);
  TensorRef r;
  r.name = name;
  r.type = *d->ggml;
  r.ne.assign(shape.rbegin(), shape.rend());
  r.data = data;
  r.nbytes = nbytes;
  return r;
}

const SafetensorsTensor* SafetensorsFile::find(const std::string& name) const {
  for (const auto& t : tensors)
    if (t.name == name) return &t;
  return nullptr;
}

SafetensorsFile safetensors_read(const std::string& path) {
  SafetensorsFile out;
  auto map = MappedFile::open(path);
  ByteReader r(map->data(), map->size(), path);
  const uint64_t header_len = r.read<uint64_t>("header_length");
  if (header_len > r.remaining())
    fail("{}: byte offset 0: field 'header_length': header of {} bytes, but only {} bytes follow (truncated file, or not a safetensors file?)",
         path, header_len, r.remaining());
  if (header_len > kMaxHeaderBytes)
    fail("{}: byte offset 0: field 'header_length': header of {} bytes exceeds the {} byte limit (not a safetensors file?)",
         path, header_len, kMaxHeaderBytes);
  const std::string_view text(reinterpret_cast<const char*>(map->data()) + r.offset(), header_len);
  r.skip(header_len, "header");
  const uint8_t* data = map->data() + r.offset();
  const uint64_t data_size = r.remaining();

  const LocatedJson hdr(text, path, 8, kMaxJsonDepth);
  const auto& root = hdr.value();
  if (!root.is_object()) hdr.fail_at(8, "header", "expected a JSON object, got " + json_describe(root));

  std::vector<Span> spans;
  for (const auto& [name, entry] : root.items()) {
    if (name == "__metadata__")
      parse_metadata(hdr, entry, out);
    else
      parse_entry(hdr, name, entry, data_size, out, spans);
  }

  // Data-offset order; zero-byte tensors occupy nothing and cannot overlap anything.
  std::sort(spans.begin(), spans.end(), [&](const Span& a, const Span& b) {
    if (a.begin != b.begin) return a.begin < b.begin;
    if (a.end != b.end) return a.end < b.end;
    return out.tensors[a.tensor].name < out.tensors[b.tensor].name;
  });
  const Span* prev = nullptr;
  for (const Span& s : spans) {
    if (s.begin == s.end) continue;
    if (prev && s.begin < prev->end) {
      const std::string& name = out.tensors[s.tensor].name;
      hdr.fail_at(hdr.offset_of(name, "data_offsets"), name + ".data_offsets",
                  fmt::format("bytes [{}, {}) overlap tensor '{}' at [{}, {})", s.begin, s.end,
                              printable(out.tensors[prev->tensor].name), prev->begin, prev->end));
    }
    if (!prev || s.end > prev->end) prev = &s;
  }

  std::vector<SafetensorsTensor> sorted;
  sorted.reserve(spans.size());
  for (const Span& s : spans) {
    SafetensorsTensor t = std::move(out.tensors[s.tensor]);
    t.data = data + s.begin;
    sorted.push_back(std::move(t));
  }
  out.tensors = std::move(sorted);
  out.maps.push_back(std::move(map));
  return out;
}

}  // namespace lowbit
