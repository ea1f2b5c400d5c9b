// libFuzzer target for the safetensors reader: any input must either parse, with every tensor
// inside the map, or throw lowbit::Error -- never crash, hang or allocate without bound.
//
// Not built by CMake. Build and run (from the repository root):
//   clang++ -std=c++20 -g -O1 -fsanitize=fuzzer,address,undefined -Isrc \
//     tests/fuzz/fuzz_safetensors.cc src/formats/safetensors/{safetensors,safetensors_dir,located_json}.cc \
//     src/core/{mapped_file,ggml_type}.cc -lfmt -fopenmp -o /tmp/fuzz_safetensors
//   /tmp/fuzz_safetensors -max_total_time=60 -rss_limit_mb=2048 /tmp/st_corpus
#include <sys/mman.h>
#include <unistd.h>

#include <cstdint>
#include <cstdlib>
#include <string>

#include "core/error.h"
#include "formats/safetensors/safetensors.h"

namespace {

// The reader takes a path; a memfd gives one without touching the disk.
int memfd() {
  static const int fd = memfd_create("fuzz.safetensors", 0);
  if (fd < 0) std::abort();
  return fd;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const int fd = memfd();
  if (ftruncate(fd, 0) != 0 || pwrite(fd, data, size, 0) != static_cast<ssize_t>(size)) std::abort();
  const std::string path = "/proc/self/fd/" + std::to_string(fd);
  try {
    const lowbit::SafetensorsFile f = lowbit::safetensors_read(path);
    const auto& map = *f.maps.at(0);
    uint64_t sum = 0;
    for (const auto& t : f.tensors) {
      // Every byte a tensor claims must be inside the map (ASan would not see a stray read of
      // mapped memory, so check the bounds explicitly too).
      if (t.data < map.data() || t.nbytes > map.size() ||
          t.data + t.nbytes > map.data() + map.size())
        std::abort();
      for (uint64_t i = 0; i < t.nbytes; ++i) sum += t.data[i];
      try {
        const lowbit::TensorRef r = t.ref();
        if (r.ne.size() != t.shape.size()) std::abort();
      } catch (const lowbit::Error&) {
      }
    }
    if (sum == 0xdeadbeef) return 0;   // keep the reads alive
  } catch (const lowbit::Error&) {
  }
  return 0;
}
