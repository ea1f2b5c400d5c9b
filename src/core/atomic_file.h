// Writes a file whole or not at all: data goes to "<path>.tmp.<pid>", which is renamed over
// <path> on commit(). A writer destroyed without commit() (an error, Ctrl-C through the
// CLI's signal handler) removes its temp file, so no half-written output is ever left.
#pragma once

#include <cstdint>
#include <cstdio>
#include <string>

namespace lowbit {

class AtomicFile {
 public:
  explicit AtomicFile(std::string path);
  ~AtomicFile();
  AtomicFile(const AtomicFile&) = delete;
  AtomicFile& operator=(const AtomicFile&) = delete;

  void write(const void* data, size_t n);
  void pad_to(uint64_t alignment);  // zero bytes up to the next multiple of alignment
  uint64_t offset() const { return offset_; }
  void commit();

  const std::string& path() const { return path_; }

 private:
  std::string path_, tmp_;
  FILE* f_ = nullptr;
  uint64_t offset_ = 0;
  bool committed_ = false;
};

// Temp files of writers still open, removed by the CLI's SIGINT/SIGTERM handler.
void remove_pending_temp_files();

}  // namespace lowbit
