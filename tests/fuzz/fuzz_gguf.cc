// libFuzzer target for the GGUF reader (and, on inputs it accepts, the writer).
//
//   clang++ -std=c++20 -g -O1 -fsanitize=fuzzer,address,undefined -Isrc tests/fuzz/fuzz_gguf.cc \
//     $(ls src/formats/gguf/*.cc src/core/*.cc | grep -v _test.cc) -lfmt -fopenmp -o fuzz_gguf
//   ./fuzz_gguf -max_total_time=60 corpus/ ../shared/fixtures/llamacpp-blocks/
//
// Any input may be rejected with lowbit::Error; nothing else is allowed (a crash, a sanitizer
// report, another exception, a huge allocation or a hang). An accepted file must survive
// write -> read unchanged, and writing is a fixed point after one round.
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <vector>

#include "core/error.h"
#include "formats/gguf/gguf.h"

namespace {

[[noreturn]] void die(const char* what) {
  std::fprintf(stderr, "fuzz_gguf: %s\n", what);
  std::abort();
}

bool same_value(const lowbit::GgufValue& a, const lowbit::GgufValue& b) {
  if (a.type != b.type || a.u != b.u || a.i != b.i || a.s != b.s || std::memcmp(&a.f, &b.f, sizeof(double)) != 0)
    return false;
  if (a.type != lowbit::GgufType::ARRAY) return true;
  if (a.elem_type != b.elem_type || a.arr.size() != b.arr.size()) return false;
  for (size_t k = 0; k < a.arr.size(); ++k)
    if (!same_value(a.arr[k], b.arr[k])) return false;
  return true;
}

bool same_file(const lowbit::GgufFile& a, const lowbit::GgufFile& b) {
  if (a.version != b.version || a.alignment != b.alignment || a.kv.size() != b.kv.size() ||
      a.tensors.size() != b.tensors.size())
    return false;
  for (size_t i = 0; i < a.kv.size(); ++i)
    if (a.kv[i].first != b.kv[i].first || !same_value(a.kv[i].second, b.kv[i].second)) return false;
  for (size_t i = 0; i < a.tensors.size(); ++i) {
    const auto& x = a.tensors[i];
    const auto& y = b.tensors[i];
    if (x.name != y.name || x.type != y.type || x.ne != y.ne || x.nbytes != y.nbytes) return false;
    if (x.nbytes && std::memcmp(x.data, y.data, x.nbytes) != 0) return false;
  }
  return true;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  lowbit::GgufFile file;
  try {
    file = lowbit::gguf_parse_bytes(data, size, "fuzz.gguf");
  } catch (const lowbit::Error&) {
    return 0;  // rejected: fine
  }
  // Keep the round trip cheap on big accepted inputs (fixture seeds are megabytes).
  uint64_t total = 0;
  for (const auto& t : file.tensors) total += t.nbytes;
  if (total > (64u << 20)) return 0;
  try {
    const std::vector<uint8_t> once = lowbit::gguf_write_bytes(file);
    const lowbit::GgufFile back = lowbit::gguf_parse_bytes(once.data(), once.size(), "fuzz-rewritten.gguf");
    if (!same_file(file, back)) die("write -> read changed the file");
    const std::vector<uint8_t> twice = lowbit::gguf_write_bytes(back);
    if (twice != once) die("writing is not a fixed point");
  } catch (const lowbit::Error& e) {
    std::fprintf(stderr, "fuzz_gguf: an accepted file failed to round-trip: %s\n", e.what());
    std::abort();
  }
  return 0;
}
