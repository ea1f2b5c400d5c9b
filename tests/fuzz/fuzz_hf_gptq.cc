// libFuzzer target for reading Hugging Face GPTQ layers (formats/hf/hf_gptq.h): the input is
// a safetensors file; every "<prefix>.qweight" with its qzeros/scales/g_idx is unpacked under
// several quantization_configs and dequantized.
//
//   clang++ -std=c++20 -g -O1 -fsanitize=fuzzer,address,undefined -Isrc tests/fuzz/fuzz_hf_gptq.cc \
//     $(ls src/formats/safetensors/*.cc src/formats/hf/*.cc src/core/*.cc | grep -v _test.cc) \
//     -lfmt -fopenmp -o fuzz_hf_gptq
//
// Any input may be rejected with lowbit::Error; nothing else is allowed. An accepted v1 layer
// whose zero points all fit must pack back to the very words it was read from, and dequantize
// to finite values.
#include <sys/mman.h>
#include <unistd.h>

#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "core/error.h"
#include "formats/hf/hf_gptq.h"
#include "formats/safetensors/safetensors.h"

namespace {

int memfd() {
  static const int fd = memfd_create("fuzz.safetensors", 0);
  if (fd < 0) std::abort();
  return fd;
}

lowbit::GptqTensorView view(const lowbit::SafetensorsTensor* t) {
  if (!t) return {};
  return {t->data, t->dtype, t->shape};
}

void check_layer(const lowbit::SafetensorsFile& f, const lowbit::SafetensorsTensor& qw, const lowbit::HfGptqConfig& cfg) {
  const std::string prefix = qw.name.substr(0, qw.name.size() - 8);
  const auto* qz = f.find(prefix + ".qzeros");
  const auto* sc = f.find(prefix + ".scales");
  const auto* gi = f.find(prefix + ".g_idx");
  if (!qz || !sc) return;
  lowbit::GptqLinear l;
  try {
    l = lowbit::gptq_unpack("fuzz", view(&qw), view(qz), view(sc), view(gi), cfg);
  } catch (const lowbit::Error&) {
    return;
  }
  if (l.in * l.out > (int64_t{1} << 22)) return;   // keep each run cheap
  std::vector<float> W(static_cast<size_t>(l.in * l.out));
  lowbit::gptq_dequantize(l, W.data());
  for (float w : W)
    if (!std::isfinite(w)) std::abort();
  if (cfg.v2) return;
  for (int32_t z : l.zeros)
    if (z > (1 << l.bits) - 1) return;   // stored 2^b − 1: a v1 zero of 2^b, which packing refuses
  const lowbit::GptqPacked p = lowbit::gptq_pack(l, "fuzz");
  if (p.qweight.size() * 4 != qw.nbytes || std::memcmp(p.qweight.data(), qw.data, qw.nbytes) != 0) std::abort();
  if (p.qzeros.size() * 4 != qz->nbytes || std::memcmp(p.qzeros.data(), qz->data, qz->nbytes) != 0) std::abort();
  if (p.scales.size() * 2 != sc->nbytes || std::memcmp(p.scales.data(), sc->data, sc->nbytes) != 0) std::abort();
  if (gi && (p.g_idx.size() * 4 != gi->nbytes || std::memcmp(p.g_idx.data(), gi->data, gi->nbytes) != 0)) std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const int fd = memfd();
  if (ftruncate(fd, 0) != 0 || pwrite(fd, data, size, 0) != static_cast<ssize_t>(size)) std::abort();
  const std::string path = "/proc/self/fd/" + std::to_string(fd);
  lowbit::SafetensorsFile f;
  try {
    f = lowbit::safetensors_read(path);
  } catch (const lowbit::Error&) {
    return 0;
  }
  for (const auto& t : f.tensors) {
    if (t.name.size() < 8 || t.name.compare(t.name.size() - 8, 8, ".qweight") != 0) continue;
    for (int bits : {2, 3, 4, 8})
      for (int gs : {32, -1})
        for (bool v2 : {false, true}) {
          lowbit::HfGptqConfig cfg;
          cfg.bits = bits;
          cfg.group_size = gs;
          cfg.v2 = v2;
          check_layer(f, t, cfg);
        }
  }
  return 0;
}
