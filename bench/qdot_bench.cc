// Throughput of every quantized dot-product kernel this CPU can run (the list in
// kernels/qdot.h), in GB/s of weight bytes, single thread:
//   cache/<kernel>   one n = 4096 row and its activation, dotted again and again: the compute
//                    ceiling (weights in L1/L2).
//   stream/<kernel>  a different weight row each call, cycling through QDOT_BENCH_MIB MiB
//                    (default 256) of rows against one activation row: the memory-bound case
//                    of token generation, where the kernel should keep up with DRAM.
// Counter wGB/s: weight bytes read per second, 1 GB = 1e9 bytes.
//
// Not wired into CMake; build against the static libraries of a lowbit build, e.g.
//   g++ -O2 -std=c++20 -Isrc bench/qdot_bench.cc build/liblowbit_kernels.a
//       build/liblowbit_codecs.a build/liblowbit_core.a -lbenchmark -lfmt -lopenblas -fopenmp -lpthread
// (one line; run with --benchmark_filter=cache/ or stream/ to pick a half).
#include <benchmark/benchmark.h>

#include <cstdlib>
#include <cstring>
#include <map>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "core/ggml_type.h"
#include "kernels/cpu.h"
#include "kernels/qdot.h"
#include "quant/codecs/codec.h"

namespace lowbit {
namespace {

constexpr int64_t kN = 4096;
constexpr int64_t kDistinctRows = 64;  // quantized once, then tiled over the stream buffer

uint64_t row_bytes(GgmlType t, int64_t n) {
  uint64_t b = 0;
  ggml_row_bytes(t, static_cast<uint64_t>(n), &b);
  return b;
}

// Per weight type: kDistinctRows quantized rows tiled to the stream size, and one activation row.
struct TypeData {
  uint64_t rb = 0;
  int64_t rows = 0;
  std::vector<uint8_t> weights;
  std::vector<uint8_t> act;
};

size_t stream_bytes() {
  const char* e = std::getenv("QDOT_BENCH_MIB");
  const long mib = e ? std::atol(e) : 256;
  return static_cast<size_t>(mib > 0 ? mib : 256) << 20;
}

TypeData& data_for(GgmlType t) {
  static std::map<GgmlType, std::unique_ptr<TypeData>> cache;
  auto& slot = cache[t];
  if (slot) return *slot;
  slot = std::make_unique<TypeData>();
  TypeData& d = *slot;
  std::mt19937 rng(42);
  std::normal_distribution<float> normal;
  std::vector<float> x(kN);
  d.rb = row_bytes(t, kN);
  std::vector<uint8_t> distinct(d.rb * kDistinctRows);
  for (int64_t r = 0; r < kDistinctRows; ++r) {
    for (auto& v : x) v = normal(rng);
    codec_for(t)->quantize_row(x.data(), distinct.data() + r * d.rb, kN, nullptr);
  }
  d.rows = static_cast<int64_t>(std::max<size_t>(stream_bytes() / d.rb, kDistinctRows));
  d.weights.resize(d.rb * d.rows);
  for (int64_t r = 0; r < d.rows; ++r)
    std::memcpy(d.weights.data() + r * d.rb, distinct.data() + (r % kDistinctRows) * d.rb, d.rb);
  for (auto& v : x) v = normal(rng);
  const GgmlType at = act_type_for(t);
  d.act.resize(row_bytes(at, kN));
  quantize_activation_row(at, x.data(), d.act.data(), kN);
  return d;
}

void set_counters(benchmark::State& state, uint64_t rb) {
  state.counters["wGB/s"] = benchmark::Counter(static_cast<double>(rb) * 1e-9, benchmark::Counter::kIsIterationInvariantRate);
}

void bm_cache(benchmark::State& state, const QDotKernel* k) {
  TypeData& d = data_for(k->wtype);
  for (auto _ : state) benchmark::DoNotOptimize(k->dot(kN, d.weights.data(), d.act.data()));
  set_counters(state, d.rb);
}

void bm_stream(benchmark::State& state, const QDotKernel* k) {
  TypeData& d = data_for(k->wtype);
  int64_t r = 0;
  for (auto _ : state) {
    benchmark::DoNotOptimize(k->dot(kN, d.weights.data() + r * d.rb, d.act.data()));
    if (++r == d.rows) r = 0;
  }
  set_counters(state, d.rb);
}

}  // namespace
}  // namespace lowbit

int main(int argc, char** argv) {
  using namespace lowbit;
  benchmark::Initialize(&argc, argv);
  int count = 0;
  const QDotKernel* ks = all_qdot_kernels(&count);
  for (int i = 0; i < count; ++i) {
    if (static_cast<int>(ks[i].isa) > static_cast<int>(cpu_best_isa())) continue;
    const QDotKernel* k = &ks[i];
    benchmark::RegisterBenchmark((std::string("cache/") + k->name).c_str(), bm_cache, k);
    benchmark::RegisterBenchmark((std::string("stream/") + k->name).c_str(), bm_stream, k);
  }
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
