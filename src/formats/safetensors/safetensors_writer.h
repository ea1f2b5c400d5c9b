// Writing safetensors (huggingface/safetensors; the layout is in safetensors.h):
//
//   u64 little-endian N | N bytes of JSON header | the tensors' bytes, back to back
//
// as the reference writer lays it out: the header is padded with spaces so the data starts
// at a multiple of 8, and the data has no holes (the Rust reader rejects them) — tensor i
// occupies [offset_i, offset_i + size_i) with offset_0 = 0 and offset_{i+1} = offset_i + size_i.
// The header carries "__metadata__" (string → string; transformers wants {"format": "pt"}).
//
// The header needs every size up front, so tensors are declared first (name, dtype, shape)
// and their bytes streamed afterwards one at a time in declaration order: a model quantized
// layer by layer never has to be in memory whole. The file is an AtomicFile: nothing appears
// at `path` until commit(), and an error or Ctrl-C leaves no file behind.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

namespace lowbit {

struct SafetensorsEntry {
  std::string name;
  std::string dtype;            // a safetensors dtype name: "F16", "F32", "I32", ...
  std::vector<int64_t> shape;   // row-major: shape.back() is the row length
};

class SafetensorsWriter {
 public:
  // Checks every entry — name non-empty, valid UTF-8, unique and not "__metadata__"; dtype
  // known; dimensions non-negative; byte size without 64-bit overflow and a whole number of
  // bytes — then writes the header. Errors name the file, the entry and the field.
  SafetensorsWriter(std::string path, std::vector<SafetensorsEntry> entries,
                    const std::map<std::string, std::string>& metadata = {{"format", "pt"}});
  ~SafetensorsWriter();
  SafetensorsWriter(const SafetensorsWriter&) = delete;
  SafetensorsWriter& operator=(const SafetensorsWriter&) = delete;

  size_t size() const { return entries_.size(); }
  uint64_t nbytes(size_t i) const { return sizes_.at(i); }
  // Entry i's bytes. i must be the next entry not yet written and n its byte size.
  void write(size_t i, const void* data, uint64_t n);
  // Error when an entry has not been written; else the file appears at `path`.
  void commit();

 private:
  struct File;
  std::string path_;
  std::vector<SafetensorsEntry> entries_;
  std::vector<uint64_t> sizes_;
  size_t next_ = 0;
  std::unique_ptr<File> file_;
};

}  // namespace lowbit
