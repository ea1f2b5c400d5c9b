// GGUF v2/v3, the file format of llama.cpp (spec: ggml/docs/gguf.md).
//
// Layout (little endian):
//   u32 magic "GGUF" | u32 version (2 or 3) | u64 n_tensors | u64 n_kv
//   n_kv x { string key | u32 value_type | value }
//   n_tensors x { string name | u32 n_dims (<= 4) | u64 ne[n_dims] | u32 ggml_type | u64 offset }
//   padding to general.alignment (default 32) | tensor data (each offset aligned, relative to data start)
// string = u64 length + bytes (no NUL); array = u32 elem_type + u64 count + elements (arrays may nest).
// ne[0] is the row length (innermost, contiguous dimension).
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "core/ggml_type.h"
#include "core/mapped_file.h"

namespace lowbit {

enum class GgufType : uint32_t {
  U8 = 0, I8 = 1, U16 = 2, I16 = 3, U32 = 4, I32 = 5, F32 = 6, BOOL = 7,
  STRING = 8, ARRAY = 9, U64 = 10, I64 = 11, F64 = 12,
};
const char* gguf_type_name(GgufType t);   // "u8", "string", "array"...; "invalid" otherwise

// Limits the reader enforces and the writer respects, so whatever lowbit writes it reads back.
constexpr int kGgufMaxDims = 4;                  // GGML_MAX_DIMS
constexpr int kGgufMaxArrayDepth = 8;            // an array of arrays of ... at most this deep
constexpr uint64_t kGgufMaxNameBytes = 65535;    // keys and tensor names (values may be longer)
constexpr uint32_t kGgufDefaultAlignment = 32;

// One metadata value. Scalars keep their declared type so a file round-trips exactly.
struct GgufValue {
  GgufType type = GgufType::U8;
  uint64_t u = 0;        // U8/U16/U32/U64, BOOL (0/1)
  int64_t i = 0;         // I8/I16/I32/I64
  double f = 0;          // F32/F64
  std::string s;         // STRING
  GgufType elem_type = GgufType::U8;   // ARRAY: element type
  std::vector<GgufValue> arr;          // ARRAY: elements (nested ARRAYs allowed)

  static GgufValue make_u32(uint32_t v);
  static GgufValue make_i32(int32_t v);
  static GgufValue make_u64(uint64_t v);
  static GgufValue make_f32(float v);
  static GgufValue make_bool(bool v);
  static GgufValue make_str(std::string v);
  static GgufValue make_str_array(const std::vector<std::string>& v);
  static GgufValue make_f32_array(const std::vector<float>& v);
  static GgufValue make_i32_array(const std::vector<int32_t>& v);

  // Conversions; throw Error (naming `key`) when the value has an incompatible type.
  uint64_t as_u64(const std::string& key) const;   // any integer type or bool, >= 0
  int64_t as_i64(const std::string& key) const;    // any integer type
  double as_f64(const std::string& key) const;     // any numeric type
  const std::string& as_str(const std::string& key) const;
  std::vector<std::string> as_str_array(const std::string& key) const;
  std::vector<float> as_f32_array(const std::string& key) const;   // any numeric elements
  std::vector<int64_t> as_i64_array(const std::string& key) const; // any integer elements
  std::string to_display(size_t max_elems = 8) const;              // for `inspect`
};

struct GgufTensorInfo {
  std::string name;
  GgmlType type = GgmlType::F32;
  std::vector<int64_t> ne;   // ne[0] = row length
  uint64_t offset = 0;       // relative to the start of the data section
  uint64_t nbytes = 0;
  const uint8_t* data = nullptr;  // points into the map (reader) or caller memory (writer)
  uint64_t n_elements() const;
};

// A parsed GGUF file. Metadata keeps file order; tensor data stays in the memory map.
struct GgufFile {
  uint32_t version = 3;
  uint32_t alignment = 32;
  std::vector<std::pair<std::string, GgufValue>> kv;
  std::vector<GgufTensorInfo> tensors;
  std::shared_ptr<MappedFile> map;   // keeps tensor data alive (null for in-memory files)

  const GgufValue* find(const std::string& key) const;
  const GgufTensorInfo* find_tensor(const std::string& name) const;
  // Setters used when building a file to write: replace an existing key or append.
  void set(const std::string& key, GgufValue v);
  void erase(const std::string& key);

  // Typed getters with defaults; a key that exists with the wrong type is an Error.
  std::optional<uint64_t> get_u64(const std::string& key) const;
  std::optional<double> get_f64(const std::string& key) const;
  std::optional<std::string> get_str(const std::string& key) const;
};

// Reads and validates the whole header: every count, length, dimension and offset is
// overflow-checked and bounded by the file size; tensor data ranges must lie inside the
// file and not overlap... Throws Error("<file>: byte offset N: field 'X': why").
GgufFile gguf_read(const std::string& path);
GgufFile gguf_parse(std::shared_ptr<MappedFile> map);   // same, from an existing map
// Same, from bytes in memory (tests, fuzzing): tensor data points into `data`, which must
// outlive the result; `name` stands in for the file name in error messages.
GgufFile gguf_parse_bytes(const uint8_t* data, size_t size, const std::string& name);

// Writes kv + tensors (data from each GgufTensorInfo::data, nbytes bytes) atomically
// (temp file + rename). general.alignment is honoured if set. version must be 2 or 3.
// Tensor offsets are the writer's own (file order, each tensor padded to the alignment);
// GgufTensorInfo::offset is ignored. Everything is validated before the file is created:
// a u32 general.alignment that is a power of two and equals GgufFile::alignment (when the
// key is absent and alignment != 32 the key is appended), unique keys and tensor names,
// values that fit their declared types, nbytes == the size of the type and shape.
void gguf_write(const std::string& path, const GgufFile& file);
// The bytes gguf_write would write, in memory (tests, fuzzing; small files only).
std::vector<uint8_t> gguf_write_bytes(const GgufFile& file);

// Writes a GGUF file whose tensor data arrives one tensor at a time, in header order, so a
// quantizer never holds the whole output in memory. The header (kv + tensor infos with
// type, shape and nbytes; data pointers ignored) is validated and written at construction;
// the layout is exactly gguf_write's. commit() renames the temp file into place; destroying
// the writer without commit() removes it.
class GgufStreamWriter {
 public:
  GgufStreamWriter(const std::string& path, const GgufFile& header);
  ~GgufStreamWriter();
  void write_tensor(size_t index, const void* data, uint64_t nbytes);
  void commit();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace lowbit
