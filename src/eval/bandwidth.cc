#include "eval/bandwidth.h"

#include <omp.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <fstream>
#include <string>
#include <memory>

#include "core/error.h"
#include "kernels/cpu.h"

namespace lowbit {
namespace {

// [begin, end) of thread t's slice of n words, cut at cache-line (8-word) boundaries.
void slice(uint64_t n, int t, int T, uint64_t* begin, uint64_t* end) {
  const uint64_t lines = n / 8;
  *begin = lines * t / T * 8;
  *end = t + 1 == T ? n : lines * (t + 1) / T * 8;
}

// Eight independent sums so the loop is bound by loads, not by an add chain. The baseline
// build vectorizes it with 16-byte loads; the same loop compiled for AVX2 and AVX-512 issues
// 32- and 64-byte loads, which read measurably faster from DRAM (here 44 vs 50 GB/s, the
// decode kernels' own load width). The roofline must be the best read rate the machine
// gives, so the widest variant the CPU runs is timed.
#define LOWBIT_SUM_WORDS_BODY                           \
  uint64_t a[8] = {};                                   \
  uint64_t i = 0;                                       \
  for (; i + 8 <= n; i += 8)                            \
    for (int k = 0; k < 8; ++k) a[k] += p[i + k];       \
  for (; i < n; ++i) a[0] += p[i];                      \
  uint64_t s = 0;                                       \
  for (uint64_t v : a) s ^= v;                          \
  return s;
uint64_t sum_words_base(const uint64_t* p, uint64_t n) { LOWBIT_SUM_WORDS_BODY }
__attribute__((target("avx2"))) uint64_t sum_words_avx2(const uint64_t* p, uint64_t n) { LOWBIT_SUM_WORDS_BODY }
__attribute__((target("avx512f,prefer-vector-width=512"))) uint64_t sum_words_avx512(const uint64_t* p, uint64_t n) {
  LOWBIT_SUM_WORDS_BODY
}
#undef LOWBIT_SUM_WORDS_BODY

using SumWordsFn = uint64_t (*)(const uint64_t*, uint64_t);
SumWordsFn sum_words_for(Isa isa) {
  switch (isa) {
    case Isa::Avx512: return sum_words_avx512;
    case Isa::Avx2: return sum_words_avx2;
    default: return sum_words_base;
  }
}

// The largest data/unified cache sysfs lists for cpu0 (e.g. "32768K"), else glibc's
// sysconf, which some hypervisors fill with made-up numbers; 0 if neither knows.
uint64_t llc_bytes() {
  uint64_t best = 0;
  for (int i = 0; i < 8; ++i) {
    const std::string dir = "/sys/devices/system/cpu/cpu0/cache/index" + std::to_string(i) + "/";
    std::ifstream type(dir + "type"), size(dir + "size");
    std::string t, sz;
    if (!(type >> t) || !(size >> sz) || t == "Instruction" || sz.empty()) continue;
    uint64_t v = std::strtoull(sz.c_str(), nullptr, 10);
    if (sz.back() == 'K') v <<= 10;
    else if (sz.back() == 'M') v <<= 20;
    best = std::max(best, v);
  }
  if (best) return best;
#ifdef _SC_LEVEL3_CACHE_SIZE
  for (int name : {_SC_LEVEL3_CACHE_SIZE, _SC_LEVEL2_CACHE_SIZE})
    if (const long v = sysconf(name); v > 0) return static_cast<uint64_t>(v);
#endif
  return 0;
}

struct FreeDeleter {
  void operator()(void* p) const { std::free(p); }
};

}  // namespace

Bandwidth measure_read_bandwidth(const BandwidthOptions& opts) {
  constexpr uint64_t kAlign = 4096;
  const uint64_t bytes = std::max<uint64_t>(kAlign, opts.buffer_bytes / kAlign * kAlign);
  const int threads = opts.threads > 0 ? opts.threads : omp_get_max_threads();
  const int runs = std::max(1, opts.runs);
  std::unique_ptr<uint64_t, FreeDeleter> buf(static_cast<uint64_t*>(std::aligned_alloc(kAlign, bytes)));
  if (!buf) fail("bandwidth: cannot allocate a {} MiB buffer", bytes >> 20);
  const uint64_t n = bytes / sizeof(uint64_t);
  uint64_t* p = buf.get();

  // Real, distinct pages (not the shared zero page), each first touched by its reader.
#pragma omp parallel num_threads(threads)
  {
    uint64_t b, e;
    slice(n, omp_get_thread_num(), omp_get_num_threads(), &b, &e);
    for (uint64_t i = b; i < e; ++i) p[i] = i * 0x9E3779B97F4A7C15ull;
  }

  Bandwidth r;
  r.buffer_bytes = bytes;
  r.llc_bytes = llc_bytes();
  r.runs = runs;
  r.threads = threads;
  const SumWordsFn sum_words = sum_words_for(cpu_best_isa());
  volatile uint64_t sink = 0;   // keeps the sums (and so the reads) alive
  double total = 0;
  for (int run = 0; run < runs; ++run) {
    uint64_t x = 0;
    const auto t0 = std::chrono::steady_clock::now();
#pragma omp parallel num_threads(threads) reduction(^ : x)
    {
      uint64_t b, e;
      slice(n, omp_get_thread_num(), omp_get_num_threads(), &b, &e);
      x ^= sum_words(p + b, e - b);
    }
    const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    sink = sink ^ x;
    const double bps = s > 0 ? bytes / s : 0;
    total += bps;
    r.bytes_per_second = std::max(r.bytes_per_second, bps);
  }
  r.mean_bytes_per_second = total / runs;
  return r;
}

}  // namespace lowbit
