// The GGUF writer. Everything is validated (and tensor offsets laid out) before a byte is
// written, so a bad GgufFile never leaves a file behind; the bytes then go through one
// emitter for both the atomic file and the in-memory form, so the two cannot drift apart.
#include <cmath>
#include <limits>
#include <unordered_set>

#include "core/atomic_file.h"
#include "core/error.h"
#include "formats/gguf/gguf.h"
#include "formats/gguf/gguf_type_traits.h"

namespace lowbit {
namespace {

constexpr uint32_t kMagic = 0x46554747;  // "GGUF" as a little-endian u32
constexpr const char* kAlignmentKey = "general.alignment";

struct Layout {
  uint32_t alignment = kGgufDefaultAlignment;
  bool append_alignment_key = false;   // GgufFile::alignment != 32 and the key is absent
  std::vector<uint64_t> offsets;       // per tensor, relative to the data section
};

bool power_of_two(uint64_t v) { return v != 0 && (v & (v - 1)) == 0; }

// Whether a scalar fits the type it declares, so writing it loses nothing.
bool fits(const GgufValue& v) {
  auto in = [](int64_t x, int64_t lo, int64_t hi) { return x >= lo && x <= hi; };
  switch (v.type) {
    case GgufType::U8: return v.u <= 0xFF;
    case GgufType::U16: return v.u <= 0xFFFF;
    case GgufType::U32: return v.u <= 0xFFFFFFFFu;
    case GgufType::BOOL: return v.u <= 1;
    case GgufType::I8: return in(v.i, INT8_MIN, INT8_MAX);
    case GgufType::I16: return in(v.i, INT16_MIN, INT16_MAX);
    case GgufType::I32: return in(v.i, INT32_MIN, INT32_MAX);
    case GgufType::F32: return !std::isfinite(v.f) || std::fabs(v.f) <= std::numeric_limits<float>::max();
    default: return true;
  }
}

// The stored number of a scalar as is, for messages about values that do not fit their type.
std::string raw(const GgufValue& v) {
  const auto& t = gguf_traits(v.type);
  if (t.is_float) return fmt::format("{}", v.f);
  return t.is_signed ? fmt::format("{}", v.i) : fmt::format("{}", v.u);
}

class Validator {
 public:
  explicit Validator(std::string where, bool need_data = true) : where_(std::move(where)), need_data_(need_data) {}

  Layout run(const GgufFile& file) {
    if (file.version != 2 && file.version != 3) bad("version {} (lowbit writes versions 2 and 3)", file.version);
    Layout layout;
    layout.alignment = alignment(file, &layout.append_alignment_key);

    std::unordered_set<std::string_view> keys;
    for (const auto& [key, v] : file.kv) {
      if (key.size() > kGgufMaxNameBytes) bad("key '{}...' is longer than {} bytes", key.substr(0, 64), kGgufMaxNameBytes);
      if (!keys.insert(key).second) bad("duplicate key '{}'", key);
      value(v, key, 0);
    }

    std::unordered_set<std::string_view> names;
    uint64_t end = 0;
    for (const auto& t : file.tensors) {
      tensor(t);
      if (!names.insert(t.name).second) bad("duplicate tensor name '{}'", t.name);
      layout.offsets.push_back(end);
      uint64_t padded = 0;
      if (add_overflows(end, t.nbytes, &end) || add_overflows(end, layout.alignment - 1, &padded))
        bad("tensor data past '{}' exceeds 2^64 bytes", t.name);
      end = padded / layout.alignment * layout.alignment;
    }
    return layout;
  }

 private:
  template <typename... Args>
  [[noreturn]] void bad(fmt::format_string<Args...> f, Args&&... args) {
    fail("{}: cannot write GGUF: {}", where_, fmt::format(f, std::forward<Args>(args)...));
  }

  uint32_t alignment(const GgufFile& file, bool* append_key) {
    if (!power_of_two(file.alignment)) bad("alignment {} is not a non-zero power of two", file.alignment);
    const GgufValue* v = file.find(kAlignmentKey);
    *append_key = !v && file.alignment != kGgufDefaultAlignment;
    if (!v) return file.alignment;
    if (v->type != GgufType::U32) bad("{} must be a u32, found {}", kAlignmentKey, gguf_type_name(v->type));
    if (v->u != file.alignment)
      bad("{} is {} but GgufFile::alignment is {}; set both (or erase the key)", kAlignmentKey, v->u, file.alignment);
    return file.alignment;
  }

  void value(const GgufValue& v, const std::string& field, int depth) {
    if (!gguf_type_valid(static_cast<uint32_t>(v.type)))
      bad("key '{}': value type {} is not a GGUF type", field, static_cast<uint32_t>(v.type));
    if (!fits(v)) bad("key '{}': value {} does not fit its type {}", field, raw(v), gguf_type_name(v.type));
    if (v.type != GgufType::ARRAY) return;
    if (depth + 1 > kGgufMaxArrayDepth) bad("key '{}': arrays nested deeper than {} levels", field, kGgufMaxArrayDepth);
    if (!gguf_type_valid(static_cast<uint32_t>(v.elem_type)))
      bad("key '{}': array element type {} is not a GGUF type", field, static_cast<uint32_t>(v.elem_type));
    for (size_t k = 0; k < v.arr.size(); ++k) {
      const GgufValue& e = v.arr[k];
      if (e.type != v.elem_type || (v.elem_type != GgufType::ARRAY && !fits(e)) ||
          (e.type == GgufType::ARRAY))  // slow path: names the element
        element(v, k, field, depth);
    }
  }

  void element(const GgufValue& v, size_t k, const std::string& field, int depth) {
    const std::string f = fmt::format("{}[{}]", field, k);
    if (v.arr[k].type != v.elem_type)
      bad("key '{}': element is {} in an array of {}", f, gguf_type_name(v.arr[k].type), gguf_type_name(v.elem_type));
    value(v.arr[k], f, depth + 1);
  }

  void tensor(const GgufTensorInfo& t) {
    if (t.name.size() > kGgufMaxNameBytes) bad("tensor name '{}...' is longer than {} bytes", t.name.substr(0, 64), kGgufMaxNameBytes);
    if (t.ne.empty() || t.ne.size() > static_cast<size_t>(kGgufMaxDims))
      bad("tensor '{}': {} dimensions (GGUF allows 1..{})", t.name, t.ne.size(), kGgufMaxDims);
    uint64_t n = 1;
    for (int64_t d : t.ne) {
      if (d < 0) bad("tensor '{}': negative dimension {}", t.name, d);
      if (mul_overflows(n, static_cast<uint64_t>(d), &n) || n > static_cast<uint64_t>(INT64_MAX))
        bad("tensor '{}': element count overflows 63 bits", t.name);
    }
    if (!ggml_type_valid(static_cast<uint32_t>(t.type)))
      bad("tensor '{}': {} is not a ggml type id", t.name, static_cast<uint32_t>(t.type));
    uint64_t nbytes = 0;
    if (!ggml_tensor_bytes(t.type, t.ne.data(), static_cast<int>(t.ne.size()), &nbytes))
      bad("tensor '{}': row length {} is not a multiple of {}'s block size {} (or the size overflows)", t.name,
          t.ne[0], ggml_type_name(t.type), ggml_traits(t.type).block_size);
    if (nbytes != t.nbytes)
      bad("tensor '{}': nbytes is {} but a {} tensor of this shape takes {}", t.name, t.nbytes,
          ggml_type_name(t.type), nbytes);
    if (need_data_ && t.nbytes && !t.data) bad("tensor '{}': no data", t.name);
  }

  std::string where_;
  bool need_data_;
};

class VectorSink {
 public:
  void write(const void* data, size_t n) {
    const auto* p = static_cast<const uint8_t*>(data);
    bytes.insert(bytes.end(), p, p + n);
  }
  void pad_to(uint64_t alignment) { bytes.resize((bytes.size() + alignment - 1) / alignment * alignment, 0); }
  std::vector<uint8_t> bytes;
};

template <typename Sink>
class Emitter {
 public:
  explicit Emitter(Sink& sink) : s_(sink) {}

  void file(const GgufFile& f, const Layout& layout) {
    header(f, layout);
    if (f.tensors.empty()) return;  // a metadata-only file needs no data section
    for (const auto& t : f.tensors) {
      s_.write(t.data, static_cast<size_t>(t.nbytes));
      s_.pad_to(layout.alignment);
    }
  }

  // Everything before the first tensor's data (padding included when there are tensors).
  void header(const GgufFile& f, const Layout& layout) {
    put<uint32_t>(kMagic);
    put<uint32_t>(f.version);
    put<uint64_t>(f.tensors.size());
    put<uint64_t>(f.kv.size() + (layout.append_alignment_key ? 1 : 0));
    for (const auto& [key, v] : f.kv) {
      string(key);
      put<uint32_t>(static_cast<uint32_t>(v.type));
      value(v);
    }
    if (layout.append_alignment_key) {
      string(kAlignmentKey);
      put<uint32_t>(static_cast<uint32_t>(GgufType::U32));
      put<uint32_t>(layout.alignment);
    }
    for (size_t i = 0; i < f.tensors.size(); ++i) {
      const auto& t = f.tensors[i];
      string(t.name);
      put<uint32_t>(static_cast<uint32_t>(t.ne.size()));
      for (int64_t d : t.ne) put<int64_t>(d);
      put<uint32_t>(static_cast<uint32_t>(t.type));
      put<uint64_t>(layout.offsets[i]);
    }
    if (!f.tensors.empty()) s_.pad_to(layout.alignment);
  }

 private:
  template <typename T>
  void put(T v) {
    s_.write(&v, sizeof(T));
  }

  void string(const std::string& s) {
    put<uint64_t>(s.size());
    s_.write(s.data(), s.size());
  }

  void value(const GgufValue& v) {
    switch (v.type) {
      case GgufType::U8: put<uint8_t>(static_cast<uint8_t>(v.u)); break;
      case GgufType::I8: put<int8_t>(static_cast<int8_t>(v.i)); break;
      case GgufType::U16: put<uint16_t>(static_cast<uint16_t>(v.u)); break;
      case GgufType::I16: put<int16_t>(static_cast<int16_t>(v.i)); break;
      case GgufType::U32: put<uint32_t>(static_cast<uint32_t>(v.u)); break;
      case GgufType::I32: put<int32_t>(static_cast<int32_t>(v.i)); break;
      case GgufType::U64: put<uint64_t>(v.u); break;
      case GgufType::I64: put<int64_t>(v.i); break;
      case GgufType::F32: put<float>(static_cast<float>(v.f)); break;
      case GgufType::F64: put<double>(v.f); break;
      case GgufType::BOOL: put<uint8_t>(v.u ? 1 : 0); break;
      case GgufType::STRING: string(v.s); break;
      case GgufType::ARRAY:
        put<uint32_t>(static_cast<uint32_t>(v.elem_type));
        put<uint64_t>(v.arr.size());
        for (const auto& e : v.arr) value(e);
        break;
    }
  }

  Sink& s_;
};

}  // namespace

void gguf_write(const std::string& path, const GgufFile& file) {
  const Layout layout = Validator(path).run(file);
  AtomicFile out(path);
  Emitter<AtomicFile>(out).file(file, layout);
  out.commit();
}

struct GgufStreamWriter::Impl {
  AtomicFile out;
  Layout layout;
  std::vector<uint64_t> sizes;
  std::vector<std::string> names;
  size_t next = 0;
  explicit Impl(const std::string& path) : out(path) {}
};

GgufStreamWriter::GgufStreamWriter(const std::string& path, const GgufFile& header) {
  const Layout layout = Validator(path, /*need_data=*/false).run(header);
  impl_ = std::make_unique<Impl>(path);
  impl_->layout = layout;
  for (const auto& t : header.tensors) {
    impl_->sizes.push_back(t.nbytes);
    impl_->names.push_back(t.name);
  }
  Emitter<AtomicFile>(impl_->out).header(header, layout);
}

GgufStreamWriter::~GgufStreamWriter() = default;

void GgufStreamWriter::write_tensor(size_t i, const void* data, uint64_t nbytes) {
  if (i != impl_->next || i >= impl_->sizes.size())
    fail("{}: tensor {} written out of order (expected {})", impl_->out.path(), i, impl_->next);
  if (nbytes != impl_->sizes[i])
    fail("{}: tensor '{}' has {} bytes, the header promised {}", impl_->out.path(), impl_->names[i], nbytes, impl_->sizes[i]);
  impl_->out.write(data, static_cast<size_t>(nbytes));
  impl_->out.pad_to(impl_->layout.alignment);
  ++impl_->next;
}

void GgufStreamWriter::commit() {
  if (impl_->next != impl_->sizes.size())
    fail("{}: {} of {} tensors written", impl_->out.path(), impl_->next, impl_->sizes.size());
  impl_->out.commit();
}

std::vector<uint8_t> gguf_write_bytes(const GgufFile& file) {
  const Layout layout = Validator("<memory>").run(file);
  VectorSink sink;
  Emitter<VectorSink>(sink).file(file, layout);
  return std::move(sink.bytes);
}

}  // namespace lowbit
