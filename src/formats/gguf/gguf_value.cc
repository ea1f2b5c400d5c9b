// GgufValue: construction, typed conversions and display; the GGUF value-type table.
#include <array>
#include <cmath>
#include <limits>

#include "core/error.h"
#include "formats/gguf/gguf.h"
#include "formats/gguf/gguf_type_traits.h"

namespace lowbit {
namespace {

constexpr GgufTypeTraits kInvalidType{"invalid", 1, false, false, false};

// Indexed by GgufType; the ids are fixed by the file format.
constexpr std::array<GgufTypeTraits, kGgufTypeCount> kTypes = {{
    {"u8", 1, true, false, false},      // U8
    {"i8", 1, true, true, false},       // I8
    {"u16", 2, true, false, false},     // U16
    {"i16", 2, true, true, false},      // I16
    {"u32", 4, true, false, false},     // U32
    {"i32", 4, true, true, false},      // I32
    {"f32", 4, false, false, true},     // F32
    {"bool", 1, false, false, false},   // BOOL
    {"string", 8, false, false, false}, // STRING: u64 length + bytes
    {"array", 12, false, false, false}, // ARRAY: u32 elem type + u64 count + elements
    {"u64", 8, true, false, false},     // U64
    {"i64", 8, true, true, false},      // I64
    {"f64", 8, false, false, true},     // F64
}};

[[noreturn]] void wrong_type(const std::string& key, const char* expected, const GgufValue& v) {
  fail("metadata key '{}': expected {}, found {}", key, expected, gguf_type_name(v.type));
}

std::string element_key(const std::string& key, size_t i) { return fmt::format("{}[{}]", key, i); }

const std::vector<GgufValue>& array_of(const GgufValue& v, const std::string& key, const char* expected) {
  if (v.type != GgufType::ARRAY) wrong_type(key, expected, v);
  return v.arr;
}

// Quoted, with control characters escaped, cut at a UTF-8 boundary when longer than max_bytes.
std::string quote(const std::string& s, size_t max_bytes) {
  size_t n = s.size();
  if (n > max_bytes) {
    n = max_bytes;
    while (n > 0 && (static_cast<unsigned char>(s[n]) & 0xC0) == 0x80) --n;  // not mid-codepoint
  }
  std::string out = "\"";
  for (size_t i = 0; i < n; ++i) {
    const unsigned char c = static_cast<unsigned char>(s[i]);
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      default:
        if (c < 0x20 || c == 0x7F) out += fmt::format("\\x{:02x}", c);
        else out += static_cast<char>(c);
    }
  }
  out += '"';
  if (n < s.size()) out += fmt::format("... ({} bytes)", s.size());
  return out;
}

constexpr size_t kDisplayStringBytes = 80;

}  // namespace

const GgufTypeTraits& gguf_traits(GgufType t) {
  const auto id = static_cast<uint32_t>(t);
  return gguf_type_valid(id) ? kTypes[id] : kInvalidType;
}

const char* gguf_type_name(GgufType t) { return gguf_traits(t).name; }

GgufValue GgufValue::make_u32(uint32_t v) {
  GgufValue r;
  r.type = GgufType::U32;
  r.u = v;
  return r;
}

GgufValue GgufValue::make_i32(int32_t v) {
  GgufValue r;
  r.type = GgufType::I32;
  r.i = v;
  return r;
}

GgufValue GgufValue::make_u64(uint64_t v) {
  GgufValue r;
  r.type = GgufType::U64;
  r.u = v;
  return r;
}

GgufValue GgufValue::make_f32(float v) {
  GgufValue r;
  r.type = GgufType::F32;
  r.f = v;
  return r;
}

GgufValue GgufValue::make_bool(bool v) {
  GgufValue r;
  r.type = GgufType::BOOL;
  r.u = v ? 1 : 0;
  return r;
}

GgufValue GgufValue::make_str(std::string v) {
  GgufValue r;
  r.type = GgufType::STRING;
  r.s = std::move(v);
  return r;
}

GgufValue GgufValue::make_str_array(const std::vector<std::string>& v) {
  GgufValue r;
  r.type = GgufType::ARRAY;
  r.elem_type = GgufType::STRING;
  r.arr.reserve(v.size());
  for (const auto& s : v) r.arr.push_back(make_str(s));
  return r;
}

GgufValue GgufValue::make_f32_array(const std::vector<float>& v) {
  GgufValue r;
  r.type = GgufType::ARRAY;
  r.elem_type = GgufType::F32;
  r.arr.reserve(v.size());
  for (float x : v) r.arr.push_back(make_f32(x));
  return r;
}

GgufValue GgufValue::make_i32_array(const std::vector<int32_t>& v) {
  GgufValue r;
  r.type = GgufType::ARRAY;
  r.elem_type = GgufType::I32;
  r.arr.reserve(v.size());
  for (int32_t x : v) r.arr.push_back(make_i32(x));
  return r;
}

uint64_t GgufValue::as_u64(const std::string& key) const {
  const auto& t = gguf_traits(type);
  if (type == GgufType::BOOL || (t.is_integer && !t.is_signed)) return u;
  if (t.is_integer) {
    if (i < 0) fail("metadata key '{}': expected a non-negative integer, found {} {}", key, t.name, i);
    return static_cast<uint64_t>(i);
  }
  wrong_type(key, "an unsigned integer", *this);
}

int64_t GgufValue::as_i64(const std::string& key) const {
  const auto& t = gguf_traits(type);
  if (t.is_integer && t.is_signed) return i;
  if (type == GgufType::BOOL || t.is_integer) {
    if (u > static_cast<uint64_t>(std::numeric_limits<int64_t>::max()))
      fail("metadata key '{}': {} {} does not fit in a signed 64-bit integer", key, t.name, u);
    return static_cast<int64_t>(u);
  }
  wrong_type(key, "an integer", *this);
}

double GgufValue::as_f64(const std::string& key) const {
  const auto& t = gguf_traits(type);
  if (t.is_float) return f;
  if (t.is_integer) return t.is_signed ? static_cast<double>(i) : static_cast<double>(u);
  wrong_type(key, "a number", *this);
}

const std::string& GgufValue::as_str(const std::string& key) const {
  if (type != GgufType::STRING) wrong_type(key, "a string", *this);
  return s;
}

std::vector<std::string> GgufValue::as_str_array(const std::string& key) const {
  const auto& a = array_of(*this, key, "an array of strings");
  std::vector<std::string> out;
  out.reserve(a.size());
  for (size_t k = 0; k < a.size(); ++k) out.push_back(a[k].as_str(element_key(key, k)));
  return out;
}

std::vector<float> GgufValue::as_f32_array(const std::string& key) const {
  const auto& a = array_of(*this, key, "an array of numbers");
  std::vector<float> out;
  out.reserve(a.size());
  for (size_t k = 0; k < a.size(); ++k) out.push_back(static_cast<float>(a[k].as_f64(element_key(key, k))));
  return out;
}

std::vector<int64_t> GgufValue::as_i64_array(const std::string& key) const {
  const auto& a = array_of(*this, key, "an array of integers");
  std::vector<int64_t> out;
  out.reserve(a.size());
  for (size_t k = 0; k < a.size(); ++k) out.push_back(a[k].as_i64(element_key(key, k)));
  return out;
}

std::string GgufValue::to_display(size_t max_elems) const {
  const auto& t = gguf_traits(type);
  if (t.is_integer) return t.is_signed ? fmt::format("{}", i) : fmt::format("{}", u);
  switch (type) {
    case GgufType::F32: return fmt::format("{}", static_cast<float>(f));  // shortest float form
    case GgufType::F64: return fmt::format("{}", f);
    case GgufType::BOOL: return u ? "true" : "false";
    case GgufType::STRING: return quote(s, kDisplayStringBytes);
    case GgufType::ARRAY: {
      std::string out = fmt::format("array<{}> [", gguf_type_name(elem_type));
      const size_t shown = std::min(arr.size(), max_elems);
      for (size_t k = 0; k < shown; ++k) {
        if (k) out += ", ";
        out += arr[k].to_display(max_elems);
      }
      if (shown < arr.size()) out += fmt::format("{}... ({} total)", shown ? ", " : "", arr.size());
      return out + "]";
    }
    default: return fmt::format("<invalid type {}>", static_cast<uint32_t>(type));
  }
}

uint64_t GgufTensorInfo::n_elements() const {
  uint64_t n = 1;
  for (int64_t d : ne) n *= static_cast<uint64_t>(d);
  return n;
}

}  // namespace lowbit
