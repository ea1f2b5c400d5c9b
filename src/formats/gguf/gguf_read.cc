// The GGUF reader. Nothing in the file is trusted: every count is bounded by the bytes
// remaining before anything is reserved, every length, dimension, type id and offset is
// checked, and tensor data must lie inside the file without overlapping. An error names
// the file, the byte offset of the offending field and the field itself.
#include <algorithm>
#include <cctype>
#include <limits>
#include <numeric>
#include <unordered_map>

#include "core/byte_reader.h"
#include "core/error.h"
#include "formats/gguf/gguf.h"
#include "formats/gguf/gguf_type_traits.h"

namespace lowbit {
namespace {

constexpr uint32_t kMagic = 0x46554747;  // "GGUF" read as a little-endian u32
// The least bytes a key-value pair and a tensor info can take: an empty key + type + a
// 1-byte value; an empty name + n_dims + one ne + type + offset.
constexpr uint64_t kMinKvBytes = 8 + 4 + 1;
constexpr uint64_t kMinTensorInfoBytes = 8 + 4 + 8 + 4 + 8;
// Elements reserved up front for a nested array; larger ones grow as their bytes are
// actually read, so stacked nested counts cannot multiply into a huge allocation.
constexpr uint64_t kNestedReserve = 1024;

class Parser {
 public:
  Parser(const uint8_t* data, size_t size, std::string name) : r_(data, size, std::move(name)) {}

  GgufFile parse() {
    GgufFile file;
    uint64_t n_tensors = 0, n_kv = 0;
    read_header(file, &n_tensors, &n_kv);
    read_kv(file, n_kv);
    read_tensor_infos(file, n_tensors);
    place_tensor_data(file);
    return file;
  }

 private:
  [[noreturn]] void fail_at(size_t offset, std::string_view field, const std::string& why) {
    r_.seek(offset, field);
    r_.fail_at(field, why);
  }

  // The field name of the value being read: its key, then the index at each array level.
  std::string value_field() const {
    std::string f = key_;
    for (uint64_t k : index_) f += fmt::format("[{}]", k);
    return f;
  }

  template <typename T>
  T read_value_scalar() {
    if (r_.remaining() < sizeof(T))
      r_.fail_at(value_field(), fmt::format("needs {} bytes but only {} remain (truncated file?)", sizeof(T),
                                            r_.remaining()));
    return r_.read<T>({});
  }

  uint64_t read_length(std::string_view field, uint64_t limit) {
    const size_t at = r_.offset();
    const uint64_t len = r_.read<uint64_t>(field);
    if (len > r_.remaining())
      fail_at(at, field, fmt::format("string length {} runs past the end of the file ({} bytes remain)", len,
                                     r_.remaining()));
    if (len > limit) fail_at(at, field, fmt::format("string length {} exceeds the limit of {} bytes", len, limit));
    return len;
  }

  // Keys and tensor names: bounded by the file and by kGgufMaxNameBytes.
  std::string read_name(const std::string& field) {
    const uint64_t len = read_length(field, kGgufMaxNameBytes);
    return r_.read_bytes(len, field);
  }

  void read_header(GgufFile& file, uint64_t* n_tensors, uint64_t* n_kv) {
    const uint32_t magic = r_.read<uint32_t>("magic");
    if (magic != kMagic) {
      std::string shown;
      for (int b = 0; b < 4; ++b) {
        const auto c = static_cast<unsigned char>(magic >> (8 * b));
        shown += std::isprint(c) ? fmt::format("{:c}", c) : fmt::format("\\x{:02x}", c);
      }
      fail_at(0, "magic", fmt::format("not a GGUF file: starts with \"{}\", expected \"GGUF\"", shown));
    }
    const uint32_t version = r_.read<uint32_t>("version");
    if (version == 1)
      fail_at(4, "version",
              "GGUF version 1 (2023, 32-bit counts) is not supported; re-convert the model with a current llama.cpp");
    if (version != 2 && version != 3) {
      const bool swapped = (version & 0xFFFF) == 0 && (version >> 24) >= 1 && (version >> 24) <= 3;
      fail_at(4, "version",
              fmt::format("unsupported GGUF version {}{}; lowbit reads versions 2 and 3", version,
                          swapped ? " (a big-endian file?)" : ""));
    }
    file.version = version;

    const size_t n_tensors_at = r_.offset();
    *n_tensors = r_.read<uint64_t>("n_tensors");
    const size_t n_kv_at = r_.offset();
    *n_kv = r_.read<uint64_t>("n_kv");

    // Bound both counts by the bytes left before reserving anything for them.
    uint64_t kv_bytes = 0, tensor_bytes = 0, total = 0;
    if (mul_overflows(*n_kv, kMinKvBytes, &kv_bytes) || kv_bytes > r_.remaining())
      fail_at(n_kv_at, "n_kv",
              fmt::format("{} key-value pairs need at least {} bytes each but only {} bytes remain", *n_kv,
                          kMinKvBytes, r_.remaining()));
    if (mul_overflows(*n_tensors, kMinTensorInfoBytes, &tensor_bytes) ||
        add_overflows(kv_bytes, tensor_bytes, &total) || total > r_.remaining())
      fail_at(n_tensors_at, "n_tensors",
              fmt::format("{} tensor infos need at least {} bytes each but only {} bytes remain after the "
                          "key-value pairs' minimum",
                          *n_tensors, kMinTensorInfoBytes, r_.remaining() - kv_bytes));
  }

  void read_kv(GgufFile& file, uint64_t n_kv) {
    file.kv.reserve(static_cast<size_t>(n_kv));
    std::unordered_map<std::string, uint64_t> seen;
    for (uint64_t i = 0; i < n_kv; ++i) {
      const std::string key_field = fmt::format("kv[{}].key", i);
      const size_t key_at = r_.offset();
      std::string key = read_name(key_field);
      if (auto [it, fresh] = seen.emplace(key, i); !fresh)
        fail_at(key_at, key_field, fmt::format("duplicate key '{}' (first at kv[{}])", key, it->second));
      key_ = key;
      const size_t type_at = r_.offset();
      const uint32_t type = read_value_scalar<uint32_t>();
      if (!gguf_type_valid(type))
        fail_at(type_at, key_, fmt::format("value type {} is not a GGUF value type (0..{})", type, kGgufTypeCount - 1));
      const size_t value_at = r_.offset();
      GgufValue v = read_value(static_cast<GgufType>(type), 0);
      if (key == "general.alignment") file.alignment = check_alignment(v, type_at, value_at);
      file.kv.emplace_back(std::move(key), std::move(v));
    }
    key_.clear();
  }

  uint32_t check_alignment(const GgufValue& v, size_t type_at, size_t value_at) {
    if (v.type != GgufType::U32)
      fail_at(type_at, "general.alignment", fmt::format("must be a u32, found {}", gguf_type_name(v.type)));
    if (v.u == 0 || (v.u & (v.u - 1)) != 0)
      fail_at(value_at, "general.alignment", fmt::format("{} is not a non-zero power of two", v.u));
    return static_cast<uint32_t>(v.u);
  }

  // `depth` counts the arrays this value sits in; an array value itself is one level deeper.
  GgufValue read_value(GgufType type, int depth) {
    GgufValue v;
    v.type = type;
    switch (type) {
      case GgufType::U8: v.u = read_value_scalar<uint8_t>(); break;
      case GgufType::I8: v.i = read_value_scalar<int8_t>(); break;
      case GgufType::U16: v.u = read_value_scalar<uint16_t>(); break;
      case GgufType::I16: v.i = read_value_scalar<int16_t>(); break;
      case GgufType::U32: v.u = read_value_scalar<uint32_t>(); break;
      case GgufType::I32: v.i = read_value_scalar<int32_t>(); break;
      case GgufType::U64: v.u = read_value_scalar<uint64_t>(); break;
      case GgufType::I64: v.i = read_value_scalar<int64_t>(); break;
      case GgufType::F32: v.f = read_value_scalar<float>(); break;
      case GgufType::F64: v.f = read_value_scalar<double>(); break;
      case GgufType::BOOL: v.u = read_value_scalar<uint8_t>() != 0; break;  // as llama.cpp: non-zero is true
      case GgufType::STRING: {
        const size_t at = r_.offset();
        const uint64_t len = read_value_scalar<uint64_t>();
        if (len > r_.remaining())
          fail_at(at, value_field(),
                  fmt::format("string length {} runs past the end of the file ({} bytes remain)", len,
                              r_.remaining()));
        v.s = r_.read_bytes(len, {});
        break;
      }
      case GgufType::ARRAY: read_array(v, depth + 1); break;
    }
    return v;
  }

  void read_array(GgufValue& v, int level) {
    const size_t at = r_.offset();
    if (level > kGgufMaxArrayDepth)
      fail_at(at, value_field(), fmt::format("arrays nested deeper than {} levels", kGgufMaxArrayDepth));
    const uint32_t elem = read_value_scalar<uint32_t>();
    if (!gguf_type_valid(elem))
      fail_at(at, value_field(),
              fmt::format("array element type {} is not a GGUF value type (0..{})", elem, kGgufTypeCount - 1));
    v.elem_type = static_cast<GgufType>(elem);
    const size_t count_at = r_.offset();
    const uint64_t count = read_value_scalar<uint64_t>();
    const uint32_t min_bytes = gguf_traits(v.elem_type).min_bytes;
    uint64_t bytes = 0;
    if (mul_overflows(count, min_bytes, &bytes) || bytes > r_.remaining())
      fail_at(count_at, value_field(),
              fmt::format("array count {} of {} needs at least {} bytes each but only {} bytes remain", count,
                          gguf_type_name(v.elem_type), min_bytes, r_.remaining()));
    v.arr.reserve(static_cast<size_t>(level == 1 ? count : std::min(count, kNestedReserve)));
    index_.push_back(0);
    for (uint64_t k = 0; k < count; ++k) {
      index_.back() = k;
      v.arr.push_back(read_value(v.elem_type, level));
    }
    index_.pop_back();
  }

  void read_tensor_infos(GgufFile& file, uint64_t n_tensors) {
    file.tensors.reserve(static_cast<size_t>(n_tensors));
    offset_at_.reserve(static_cast<size_t>(n_tensors));
    std::unordered_map<std::string, uint64_t> seen;
    for (uint64_t i = 0; i < n_tensors; ++i) {
      const std::string f = fmt::format("tensor[{}]", i);
      GgufTensorInfo t;
      const size_t name_at = r_.offset();
      t.name = read_name(f + ".name");
      if (auto [it, fresh] = seen.emplace(t.name, i); !fresh)
        fail_at(name_at, f + ".name", fmt::format("duplicate tensor name '{}' (first at tensor[{}])", t.name, it->second));

      const size_t n_dims_at = r_.offset();
      const uint32_t n_dims = r_.read<uint32_t>(f + ".n_dims");
      if (n_dims < 1 || n_dims > static_cast<uint32_t>(kGgufMaxDims))
        fail_at(n_dims_at, f + ".n_dims",
                fmt::format("tensor '{}': n_dims {} is outside 1..{}", t.name, n_dims, kGgufMaxDims));
      const size_t ne_at = r_.offset();
      uint64_t n_elements = 1;
      bool elements_overflow = false;
      for (uint32_t d = 0; d < n_dims; ++d) {
        const size_t at = r_.offset();
        const std::string ne_field = fmt::format("{}.ne[{}]", f, d);
        const int64_t ne = r_.read<int64_t>(ne_field);
        if (ne < 0) fail_at(at, ne_field, fmt::format("tensor '{}': dimension {} is negative", t.name, ne));
        elements_overflow |= mul_overflows(n_elements, static_cast<uint64_t>(ne), &n_elements);
        t.ne.push_back(ne);
      }
      if (elements_overflow || n_elements > static_cast<uint64_t>(std::numeric_limits<int64_t>::max()))
        fail_at(ne_at, f + ".ne",
                fmt::format("tensor '{}': element count of shape {} overflows 63 bits", t.name, shape(t.ne)));

      const size_t type_at = r_.offset();
      const uint32_t type = r_.read<uint32_t>(f + ".type");
      if (!ggml_type_valid(type))
        fail_at(type_at, f + ".type", fmt::format("tensor '{}': {} is not a ggml type id", t.name, type));
      t.type = static_cast<GgmlType>(type);
      const auto& traits = ggml_traits(t.type);
      if (t.ne[0] % traits.block_size != 0)
        fail_at(ne_at, f + ".ne",
                fmt::format("tensor '{}': row length ne[0] = {} is not a multiple of {}'s block size {}", t.name,
                            t.ne[0], traits.name, traits.block_size));
      if (!ggml_tensor_bytes(t.type, t.ne.data(), static_cast<int>(n_dims), &t.nbytes))
        fail_at(ne_at, f + ".ne",
                fmt::format("tensor '{}': size in bytes of {} {} overflows 64 bits", t.name, traits.name, shape(t.ne)));

      offset_at_.push_back(r_.offset());
      t.offset = r_.read<uint64_t>(f + ".offset");
      if (t.offset % file.alignment != 0)
        fail_at(offset_at_.back(), f + ".offset",
                fmt::format("tensor '{}': offset {} is not a multiple of the alignment {}", t.name, t.offset,
                            file.alignment));
      file.tensors.push_back(std::move(t));
    }
  }

  static std::string shape(const std::vector<int64_t>& ne) {
    std::string s = "[";
    for (size_t d = 0; d < ne.size(); ++d) s += fmt::format("{}{}", d ? ", " : "", ne[d]);
    return s + "]";
  }

  // The data section starts at the header's end rounded up to the alignment.
  void place_tensor_data(GgufFile& file) {
    const uint64_t header_end = r_.offset();
    const uint64_t data_start = (header_end + file.alignment - 1) / file.alignment * file.alignment;
    const uint64_t size = r_.size();
    auto field = [](size_t i) { return fmt::format("tensor[{}].offset", i); };
    for (size_t i = 0; i < file.tensors.size(); ++i) {
      auto& t = file.tensors[i];
      uint64_t begin = 0, end = 0;
      if (add_overflows(data_start, t.offset, &begin) || add_overflows(begin, t.nbytes, &end) || end > size)
        fail_at(offset_at_[i], field(i),
                fmt::format("tensor '{}': data at offset {} + {} bytes (data section starts at byte {}) runs past "
                            "the end of the file ({} bytes; truncated file?)",
                            t.name, t.offset, t.nbytes, data_start, size));
      t.data = r_.data() + begin;
    }
    // Tensors may come in any order; sorted by offset, none may start before the furthest end so far.
    std::vector<size_t> order(file.tensors.size());
    std::iota(order.begin(), order.end(), size_t{0});
    std::sort(order.begin(), order.end(),
              [&](size_t a, size_t b) { return file.tensors[a].offset < file.tensors[b].offset; });
    uint64_t max_end = 0;
    size_t max_owner = 0;
    for (size_t i : order) {
      const auto& t = file.tensors[i];
      if (t.nbytes == 0) continue;
      if (t.offset < max_end) {
        const auto& o = file.tensors[max_owner];
        fail_at(offset_at_[i], field(i),
                fmt::format("tensor '{}': data [{}, {}) overlaps tensor '{}' [{}, {})", t.name, t.offset,
                            t.offset + t.nbytes, o.name, o.offset, o.offset + o.nbytes));
      }
      max_end = t.offset + t.nbytes;
      max_owner = i;
    }
  }

  ByteReader r_;
  std::string key_;                 // key of the value being read, for error messages
  std::vector<uint64_t> index_;     // array indices of the value being read, outermost first
  std::vector<size_t> offset_at_;   // per tensor, where its offset field is in the file
};

}  // namespace

GgufFile gguf_parse_bytes(const uint8_t* data, size_t size, const std::string& name) {
  if (!data && size) fail("{}: no data", name);
  return Parser(data, size, name).parse();
}

GgufFile gguf_parse(std::shared_ptr<MappedFile> map) {
  if (!map) fail("gguf_parse: no file");
  GgufFile file = gguf_parse_bytes(map->data(), map->size(), map->path());
  file.map = std::move(map);
  return file;
}

GgufFile gguf_read(const std::string& path) { return gguf_parse(MappedFile::open(path)); }

}  // namespace lowbit
