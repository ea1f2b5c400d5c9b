#include "kernels/repack.h"

#include <omp.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <string>

#include "core/error.h"
#include "core/half.h"
#include "kernels/qdot.h"
#include "quant/codecs/blocks.h"

namespace lowbit {

// Defined in the per-ISA files; repack_kernels is the only caller.
void repack_group__ref(GgmlType type, const uint8_t* group, int64_t n, const RepackActs& a, int64_t t, float* y);
void repack_groups__ref(GgmlType type, const uint8_t* group, int64_t n, const RepackActs& a, int64_t t0, int64_t t1,
                        float* y, int64_t ldy);
void repack_group__avx512(GgmlType type, const uint8_t* group, int64_t n, const RepackActs& a, int64_t t, float* y);
void repack_groups__avx512(GgmlType type, const uint8_t* group, int64_t n, const RepackActs& a, int64_t t0, int64_t t1,
                           float* y, int64_t ldy);

namespace {

// The traits table (repack.h describes the layouts).
constexpr RepackFormat kFormats[] = {
    {GgmlType::Q4_0, 32, sizeof(BlockQ4_0), 2, {{0, 2, 2}, {2, 16, 4}}},
    {GgmlType::IQ4_NL, 32, sizeof(BlockIq4Nl), 2, {{0, 2, 2}, {2, 16, 4}}},
    {GgmlType::Q4_K, 256, sizeof(BlockQ4K), 4, {{0, 2, 2}, {2, 2, 2}, {4, 12, 1}, {16, 128, 4}}},
};

bool repack_enabled() {
  static const bool on = [] {
    const char* e = std::getenv("LOWBIT_REPACK");
    return !(e && std::string(e) == "0");
  }();
  return on;
}

// Calls f(row_offset, group_offset, bytes) for every interleave unit of one block: the unit's
// bytes sit at row_offset in row r's block and at group_offset + r·bytes in the group's block.
template <class F>
void for_each_unit(const RepackFormat& fmt, F&& f) {
  uint64_t g = 0;
  for (int i = 0; i < fmt.nfields; ++i) {
    const RepackField& fd = fmt.fields[i];
    for (int u = 0; u < fd.size / fd.unit; ++u) {
      f(static_cast<uint64_t>(fd.offset + u * fd.unit), g, static_cast<uint64_t>(fd.unit));
      g += static_cast<uint64_t>(fd.unit) * kRepackRows;
    }
  }
}

const RepackFormat& format_of(GgmlType t) {
  const RepackFormat* f = repack_format(t);
  if (!f) fail("weight type {} has no interleaved layout", ggml_type_name(t));
  return *f;
}

}  // namespace

const RepackFormat* repack_format(GgmlType type) {
  for (const RepackFormat& f : kFormats)
    if (f.type == type) return &f;
  return nullptr;
}

const RepackKernels* repack_kernels(Isa isa) {
  static constexpr RepackKernels ref = {Isa::Ref, repack_group__ref, repack_groups__ref, "repack__ref"};
  static constexpr RepackKernels avx512 = {Isa::Avx512, repack_group__avx512, repack_groups__avx512, "repack__avx512"};
  if (static_cast<int>(isa) > static_cast<int>(cpu_best_isa())) return nullptr;
  switch (isa) {
    case Isa::Ref: return &ref;
    case Isa::Avx2: return nullptr;
    case Isa::Avx512: return &avx512;
  }
  return nullptr;
}

bool repack_wanted(GgmlType type, int64_t in) {
  const RepackFormat* f = repack_format(type);
  return f && in > 0 && in % f->block == 0 && repack_enabled() && active_isa() == Isa::Avx512;
}

uint64_t repacked_bytes(uint64_t row_bytes, int64_t out) {
  const uint64_t groups = static_cast<uint64_t>((out + kRepackRows - 1) / kRepackRows);
  return groups * kRepackRows * row_bytes;
}

void repack_rows(const QMatrix& W, uint8_t* dst) {
  const RepackFormat& fmt = format_of(W.type);
  const int64_t nb = W.in / fmt.block, groups = (W.out + kRepackRows - 1) / kRepackRows;
  const uint64_t bb = static_cast<uint64_t>(fmt.block_bytes), gb = bb * kRepackRows;
#pragma omp parallel for schedule(static)
  for (int64_t g = 0; g < groups; ++g) {
    uint8_t* out = dst + static_cast<uint64_t>(g) * nb * gb;
    for (int64_t b = 0; b < nb; ++b) {
      uint8_t* ob = out + b * gb;
      for (int r = 0; r < kRepackRows; ++r) {
        const int64_t row = g * kRepackRows + r;
        const uint8_t* src = row < W.out ? W.data + row * W.row_bytes + b * bb : nullptr;
        for_each_unit(fmt, [&](uint64_t ro, uint64_t go, uint64_t n) {
          if (src) std::memcpy(ob + go + r * n, src + ro, n);
          else std::memset(ob + go + r * n, 0, n);
        });
      }
    }
  }
}

void unrepack_rows(const QMatrix& W, int64_t row0, int64_t rows, uint8_t* dst) {
  const RepackFormat& fmt = format_of(W.type);
  const int64_t nb = W.in / fmt.block;
  const uint64_t bb = static_cast<uint64_t>(fmt.block_bytes), gb = bb * kRepackRows;
  for (int64_t i = 0; i < rows; ++i) {
    const int64_t row = row0 + i, g = row / kRepackRows, r = row % kRepackRows;
    const uint8_t* in = W.data + static_cast<uint64_t>(g) * nb * gb;
    for (int64_t b = 0; b < nb; ++b)
      for_each_unit(fmt, [&](uint64_t ro, uint64_t go, uint64_t n) {
        std::memcpy(dst + i * W.row_bytes + b * bb + ro, in + b * gb + go + r * n, n);
      });
  }
}

void repack_acts(GgmlType wtype, const float* X, int64_t n, int64_t T, RepackActs& a, std::vector<uint8_t>& scratch) {
  const GgmlType at = act_type_for(wtype);
  uint64_t arow = 0;
  if (!ggml_row_bytes(at, n, &arow)) fail("row length {} does not fit activation type {}", n, ggml_type_name(at));
  const bool k = at == GgmlType::Q8_K;
  const int off = wtype == GgmlType::Q4_0 ? 8 : wtype == GgmlType::IQ4_NL ? 128 : 0;
  a.n = n;
  a.tokens = T;
  a.codes.resize(static_cast<size_t>(T * n));
  a.da.resize(static_cast<size_t>(T * (n / (k ? 256 : 32))));
  a.sums.resize(static_cast<size_t>(T * (n / 32)));
  scratch.resize(arow);
  for (int64_t t = 0; t < T; ++t) {
    quantize_activation_row(at, X + t * n, scratch.data(), n);
    int8_t* codes = a.codes.data() + t * n;
    const uint8_t* b = scratch.data();
    if (k) {   // BlockQ8K: f32 d, i8 qs[256], i16 bsums[16]
      for (int64_t s = 0; s < n / 256; ++s, b += sizeof(BlockQ8K)) {
        std::memcpy(&a.da[t * (n / 256) + s], b, 4);
        std::memcpy(codes + 256 * s, b + 4, 256);
      }
    } else {   // BlockQ8_0: f16 d, i8 qs[32]
      for (int64_t s = 0; s < n / 32; ++s, b += sizeof(BlockQ8_0)) {
        uint16_t d;
        std::memcpy(&d, b, 2);
        a.da[t * (n / 32) + s] = f16_to_f32(d);
        std::memcpy(codes + 32 * s, b + 2, 32);
      }
    }
    for (int64_t s = 0; s < n / 32; ++s) {
      int32_t sum = 0;
      for (int e = 0; e < 32; ++e) sum += codes[32 * s + e];
      a.sums[t * (n / 32) + s] = k ? sum : -off * sum;
    }
  }
}

void repacked_matmul(const QMatrix& W, const float* X, int64_t T, float* Y, Isa isa) {
  const RepackKernels* k = repack_kernels(isa);
  if (!k) k = repack_kernels(Isa::Ref);
  thread_local RepackActs acts;
  thread_local std::vector<uint8_t> scratch;
  repack_acts(W.type, X, W.in, T, acts, scratch);
  const RepackActs& a = acts;
  const int64_t groups = (W.out + kRepackRows - 1) / kRepackRows;
  const uint64_t gbytes = kRepackRows * W.row_bytes;
  const int threads = W.in * W.out * T < (1 << 16) ? 1 : omp_get_max_threads();
  // Static schedule: each thread streams one contiguous range of groups (see qmatmul.cc).
#pragma omp parallel for schedule(static) num_threads(threads)
  for (int64_t g = 0; g < groups; ++g) {
    const uint8_t* gp = W.data + static_cast<uint64_t>(g) * gbytes;
    const int64_t row0 = g * kRepackRows, rows = std::min<int64_t>(kRepackRows, W.out - row0);
    if (rows == kRepackRows) {
      k->groups(W.type, gp, W.in, a, 0, T, Y + row0, W.out);
    } else {
      thread_local std::vector<float> tmp;
      tmp.resize(static_cast<size_t>(T) * kRepackRows);
      k->groups(W.type, gp, W.in, a, 0, T, tmp.data(), kRepackRows);
      for (int64_t t = 0; t < T; ++t) std::copy_n(tmp.data() + t * kRepackRows, rows, Y + t * W.out + row0);
    }
  }
}

}  // namespace lowbit
