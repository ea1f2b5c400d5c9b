// libFuzzer target for the Hugging Face JSON readers (config.json, tokenizer.json,
// tokenizer_config.json): any input must parse or throw lowbit::Error -- never crash, hang,
// leak a nlohmann exception or allocate without bound. The first byte picks the reader:
//   0: hf_read_config(rest)   1: hf_read_tokenizer(rest)   2: hf_read_tokenizer(rest, config = rest)
//
// Not built by CMake. Build and run (from the repository root):
//   clang++ -std=c++20 -g -O1 -fsanitize=fuzzer,address,undefined -Isrc \
//     tests/fuzz/fuzz_hf.cc src/formats/hf/{hf_config,hf_tokenizer,hf_json}.cc \
//     src/core/mapped_file.cc -lfmt -fopenmp -o /tmp/fuzz_hf
//   /tmp/fuzz_hf -max_total_time=60 -rss_limit_mb=2048 /tmp/hf_corpus
#include <sys/mman.h>
#include <unistd.h>

#include <cstdint>
#include <cstdlib>
#include <string>

#include "core/error.h"
#include "formats/hf/hf_config.h"
#include "formats/hf/hf_tokenizer.h"

namespace {

int memfd() {
  static const int fd = memfd_create("fuzz.json", 0);
  if (fd < 0) std::abort();
  return fd;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const int fd = memfd();
  if (ftruncate(fd, 0) != 0 || pwrite(fd, data + 1, size - 1, 0) != static_cast<ssize_t>(size - 1)) std::abort();
  const std::string path = "/proc/self/fd/" + std::to_string(fd);
  try {
    switch (data[0] % 3) {
      case 0: {
        const lowbit::HfConfig c = lowbit::hf_read_config(path);
        if (c.hidden_size <= 0 || c.head_dim <= 0 || c.num_attention_heads % c.num_key_value_heads != 0) std::abort();
        break;
      }
      default: {
        const lowbit::Vocab v = lowbit::hf_read_tokenizer(path, data[0] % 3 == 2 ? path : "");
        const auto n = static_cast<int32_t>(v.size());
        if (n == 0 || v.types.size() != v.size()) std::abort();
        if (!v.scores.empty() && v.scores.size() != v.size()) std::abort();
        for (int32_t id : {v.bos, v.eos, v.unk, v.pad})
          if (id < -1 || id >= n) std::abort();
        for (int32_t t : v.types)
          if (t < lowbit::kTokNormal || t > lowbit::kTokByte) std::abort();
        break;
      }
    }
  } catch (const lowbit::Error&) {
  }
  return 0;
}
