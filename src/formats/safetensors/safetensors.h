// safetensors (huggingface/safetensors): u64 header length N | N bytes of JSON header |
// raw data. The header maps each tensor name to {dtype, shape, data_offsets:[begin,end]}
// relative to the data start, plus an optional "__metadata__" string map. Sharded models
// list name -> file in model.safetensors.index.json ("weight_map").
//
// Tensor data is not aligned by the format (writers pad the header to 8 bytes, but nothing
// requires it): read elements with memcpy, not through a cast pointer. Gaps between tensors
// and bytes after the last one are allowed (the Rust reference rejects them; mlx does not).
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "core/mapped_file.h"
#include "core/tensor_ref.h"

namespace lowbit {

struct SafetensorsTensor {
  std::string name;
  std::string file;               // the file (shard) holding it, for error messages
  std::string dtype;              // as in the file: "F32", "F16", "BF16", "I64", ...
  std::vector<int64_t> shape;     // row-major as in the file: shape.back() is the row length
  const uint8_t* data = nullptr;  // into the file's map
  uint64_t nbytes = 0;
  // As a TensorRef (ggml order: ne = reversed shape). Throws Error for dtypes lowbit cannot
  // compute with (anything but F32/F16/BF16), naming the tensor and file.
  TensorRef ref() const;
};

struct SafetensorsFile {
  std::vector<SafetensorsTensor> tensors;           // in data-offset order (shard by shard, shards sorted by name)
  std::map<std::string, std::string> metadata;      // "__metadata__" (shards merged, first shard wins)
  std::vector<std::shared_ptr<MappedFile>> maps;    // keep data alive (one per shard)
  const SafetensorsTensor* find(const std::string& name) const;
};

// One file. Validates: header length within the file and < 100 MB; JSON well-formed; each
// dtype known; shape product (overflow-checked) x dtype size == end - begin; offsets within
// the data; tensors do not overlap. Errors name the file, byte offset and field.
SafetensorsFile safetensors_read(const std::string& path);
// A directory: model.safetensors, or the shards named by model.safetensors.index.json
// (every shard listed must exist; a tensor in two shards is an error). model.safetensors
// wins when both are present, as in transformers. `dir` may also name a .safetensors file.
// Shard names must be relative and stay inside the directory ("../x", "/x" are errors).
SafetensorsFile safetensors_read_dir(const std::string& dir);

// Bits per element of a safetensors dtype name ("F16" -> 16, "F4" -> 4); 0 when unknown.
uint32_t safetensors_dtype_bits(std::string_view dtype);

}  // namespace lowbit
