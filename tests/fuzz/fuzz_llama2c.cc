// libFuzzer target for the llama2.c checkpoint and tokenizer.bin readers: any input either
// parses, with every tensor inside the map, or throws lowbit::Error.
// Built and run by scripts/fuzz.sh.
#include <sys/mman.h>
#include <unistd.h>

#include <cstdint>
#include <cstdlib>
#include <string>

#include "core/error.h"
#include "formats/llama2c/llama2c.h"

namespace {
int memfd() {
  static const int fd = memfd_create("fuzz.bin", 0);
  if (fd < 0) std::abort();
  return fd;
}
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const int fd = memfd();
  if (ftruncate(fd, 0) != 0 || pwrite(fd, data, size, 0) != static_cast<ssize_t>(size)) std::abort();
  const std::string path = "/proc/self/fd/" + std::to_string(fd);
  try {
    const lowbit::Llama2cCheckpoint c = lowbit::llama2c_read(path);
    for (const auto& t : c.tensors)
      if (t.data < c.map->data() || t.data + t.nbytes > c.map->data() + c.map->size()) std::abort();
  } catch (const lowbit::Error&) {
  }
  // The same bytes as a tokenizer.bin of a small vocabulary.
  try {
    const lowbit::Vocab v = lowbit::llama2c_read_tokenizer(path, 16);
    if (v.tokens.size() != 16) std::abort();
  } catch (const lowbit::Error&) {
  }
  return 0;
}
