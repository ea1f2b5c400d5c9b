// A read-only memory map of a whole file. Tensor data is read in place from the map,
// so a model is never held twice in memory.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

namespace lowbit {

class MappedFile {
 public:
  // Throws Error naming the path if it cannot be opened or mapped. An empty file maps to
  // size() == 0 and data() == nullptr.
  static std::shared_ptr<MappedFile> open(const std::string& path);
  ~MappedFile();
  MappedFile(const MappedFile&) = delete;
  MappedFile& operator=(const MappedFile&) = delete;

  const uint8_t* data() const { return data_; }
  size_t size() const { return size_; }
  const std::string& path() const { return path_; }

 private:
  MappedFile() = default;
  const uint8_t* data_ = nullptr;
  size_t size_ = 0;
  std::string path_;
};

// Drops the pages of [p, p + n) of a read-only file mapping from this process's resident set
// (they are re-read from the page cache if touched again). Layer-wise quantization calls it
// after each block so peak memory stays about one block, whatever the model's depth.
void release_pages(const void* p, size_t n);

}  // namespace lowbit
