// Throughput of the K-quant dot products (Q2_K..Q6_K, IQ4_XS, TQ1_0, TQ2_0 against Q8_K), every
// variant in the kernel list that this CPU runs, reported as GB/s of weight bytes read.
//
//   row/<kernel>      one row of n = 4096 dotted over and over: weights and activations stay
//                     in L1, so this is the kernel's compute throughput;
//   matvec/<kernel>   a 4096-wide matrix of 256 MiB of weights (far beyond the last-level
//                     cache) dotted row by row with one activation row, one thread: token
//                     generation's memory-bound case; a kernel keeps up if it is close to the
//                     streaming rate of the machine (matvec/stream_u64_sum). SIMD variants only.
//
// Build (not part of the CMake project), from the repository root after
// `ninja -C build-qk lowbit_kernels`, as one line:
//   g++ -O2 -std=c++20 -Isrc bench/qdot_kquants_bench.cc build-qk/liblowbit_kernels.a
//       build-qk/liblowbit_codecs.a build-qk/liblowbit_core.a -lbenchmark -lpthread -lfmt
//       -lopenblas -fopenmp -o build-qk/qdot_kquants_bench
//   ./build-qk/qdot_kquants_bench [--benchmark_filter=row/]
// Numbers are CPU time based (Google Benchmark's default), so a busy machine reads close to
// an idle one; wall time is in the Time column.
#include <cstdint>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include <benchmark/benchmark.h>

#include "core/ggml_type.h"
#include "kernels/qdot.h"
#include "quant/codecs/codec.h"

namespace {

using namespace lowbit;

constexpr int64_t kN = 4096;
constexpr size_t kMatrixBytes = size_t{256} << 20;

bool is_kquant(GgmlType t) {
  switch (t) {
    case GgmlType::Q2_K: case GgmlType::Q3_K: case GgmlType::Q4_K: case GgmlType::Q5_K:
    case GgmlType::Q6_K: case GgmlType::IQ4_XS: case GgmlType::TQ1_0: case GgmlType::TQ2_0:
      return true;
    default:
      return false;
  }
}

size_t row_bytes(GgmlType t) {
  uint64_t b = 0;
  ggml_row_bytes(t, kN, &b);
  return static_cast<size_t>(b);
}

std::vector<float> normal_floats(int64_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> nd;
  std::vector<float> x(n);
  for (auto& v : x) v = nd(rng);
  return x;
}

std::vector<uint8_t> activation_row() {
  std::vector<uint8_t> a(row_bytes(GgmlType::Q8_K));
  const std::vector<float> x = normal_floats(kN, 2);
  quantize_activation_row(GgmlType::Q8_K, x.data(), a.data(), kN);
  return a;
}

std::vector<uint8_t> weight_row(GgmlType t) {
  std::vector<uint8_t> w(row_bytes(t));
  const std::vector<float> x = normal_floats(kN, 1);
  codec_for(t)->quantize_row(x.data(), w.data(), kN, nullptr);
  return w;
}

void bm_row(benchmark::State& state, const QDotKernel* k) {
  const std::vector<uint8_t> w = weight_row(k->wtype), a = activation_row();
  for (auto _ : state) {
    float r = k->dot(kN, w.data(), a.data());
    benchmark::DoNotOptimize(r);
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * w.size()));
}

void bm_matvec(benchmark::State& state, const QDotKernel* k) {
  // Copies of one quantized row (what the kernel reads does not change its speed).
  const std::vector<uint8_t> row = weight_row(k->wtype), a = activation_row();
  const size_t rows = kMatrixBytes / row.size();
  std::vector<uint8_t> m(rows * row.size());
  for (size_t r = 0; r < rows; ++r) std::memcpy(&m[r * row.size()], row.data(), row.size());
  std::vector<float> out(rows);
  for (auto _ : state) {
    for (size_t r = 0; r < rows; ++r) out[r] = k->dot(kN, &m[r * row.size()], a.data());
    benchmark::DoNotOptimize(out.data());
    benchmark::ClobberMemory();
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * m.size()));
}

// The streaming reference: summing 256 MiB of bytes as 64-bit words (no kernel can read faster).
void bm_stream(benchmark::State& state) {
  std::vector<uint64_t> m(kMatrixBytes / 8, 1);
  for (auto _ : state) {
    uint64_t s0 = 0, s1 = 0, s2 = 0, s3 = 0;
    for (size_t i = 0; i < m.size(); i += 4) {
      s0 += m[i];
      s1 += m[i + 1];
      s2 += m[i + 2];
      s3 += m[i + 3];
    }
    benchmark::DoNotOptimize(s0 + s1 + s2 + s3);
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * kMatrixBytes));
}

}  // namespace

int main(int argc, char** argv) {
  int count = 0;
  const QDotKernel* all = all_qdot_kernels(&count);
  for (const char* kind : {"row", "matvec"})
    for (int i = 0; i < count; ++i) {
      const QDotKernel* k = &all[i];
      if (!is_kquant(k->wtype) || static_cast<int>(k->isa) > static_cast<int>(cpu_best_isa())) continue;
      if (kind[0] == 'm' && k->isa == Isa::Ref) continue;  // seconds per pass; its row speed says enough
      const std::string name = std::string(kind) + "/" + k->name;
      if (kind[0] == 'r')
        benchmark::RegisterBenchmark(name.c_str(), bm_row, k);
      else
        benchmark::RegisterBenchmark(name.c_str(), bm_matvec, k)->Unit(benchmark::kMillisecond);
    }
  benchmark::RegisterBenchmark("matvec/stream_u64_sum", bm_stream)->Unit(benchmark::kMillisecond);
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
