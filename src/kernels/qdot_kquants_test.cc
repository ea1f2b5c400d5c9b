// The K-quant dot products (Q2_K..Q6_K, IQ4_XS, TQ1_0, TQ2_0 against Q8_K): every variant in
// the kernel list that this machine may run, against its reference; and the references against
// the codecs (a float64 dot of the dequantized rows).
//
// Three kinds of check:
//  - unit super-scales (d = dmin = 1 on both sides): the result is a sum of integers. The
//    activations are budgeted so that every integer a kernel can form (products, partial sums,
//    offset and min terms, in any order) stays below 2^24, so float summation is exact and each
//    variant must equal the reference bit for bit, and the reference must equal the integer dot
//    of the dequantized rows. Weights are random bytes (every code, scale and min pattern,
//    including codes the quantizers never write) and codec-quantized rows. Activations are
//    8-element windows of full-range values at every position of a super-block (maddubs pairs
//    at their extremes, each sub-block's scale on its own) and dense small-valued rows;
//  - codec-quantized random rows with real scales: within 1e-6 of the reference, relative to
//    sum |w_j a_j| (the size of the terms; the result itself may cancel to nothing);
//  - the reference against float64 on dequantized rows, within 1e-5 of sum |w_j a_j|.
// Rows sit one byte past an allocation's start and end exactly at its end (misaligned loads;
// ASan sees overreads). Variants above min(cpu_best_isa(), LOWBIT_ISA) are skipped:
// LOWBIT_ISA=avx2 / ref emulates a CPU without AVX-512 / AVX2.
#include <cmath>
#include <cstddef>
#include <cstdlib>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "core/ggml_type.h"
#include "core/half.h"
#include "kernels/qdot.h"
#include "quant/codecs/blocks.h"
#include "quant/codecs/codec.h"

namespace lowbit {
namespace {

constexpr GgmlType kTypes[] = {GgmlType::Q2_K,   GgmlType::Q3_K,  GgmlType::Q4_K,  GgmlType::Q5_K,
                               GgmlType::Q6_K,   GgmlType::IQ4_XS, GgmlType::TQ1_0, GgmlType::TQ2_0};
constexpr int64_t kBlockCounts[] = {1, 2, 3, 5, 8, 16};
constexpr double kTwo24 = 16777216.0;

// The most a kernel may multiply one activation by, summed over the terms it forms for it:
// |scale| * (largest code) for the code product plus |scale| * offset or |min| for the terms
// taken from bsums. Q6_K: 128 * 63 + 128 * 32; IQ4_XS: 32 * 127, or 32 * (241 + 128) for a
// kernel using offset codes; TQ: code 3 (never written, still readable) + 1.
int64_t max_weight_per_activation(GgmlType t) {
  switch (t) {
    case GgmlType::Q2_K: return 15 * 3 + 15;
    case GgmlType::Q3_K: return 32 * 7 + 32 * 4;
    case GgmlType::Q4_K: return 63 * 15 + 63;
    case GgmlType::Q5_K: return 63 * 31 + 63;
    case GgmlType::Q6_K: return 128 * 63 + 128 * 32;
    case GgmlType::IQ4_XS: return 32 * (241 + 128);
    default: return 3 + 1;
  }
}

// Highest ISA this run may use: the CPU's, lowered by LOWBIT_ISA. Read here rather than via
// active_isa(), which other tests in this binary override with force_isa().
Isa isa_limit() {
  Isa isa = cpu_best_isa();
  if (const char* e = std::getenv("LOWBIT_ISA"); e && *e) {
    Isa want;
    if (isa_from_name(e, &want) && static_cast<int>(want) < static_cast<int>(isa)) isa = want;
  }
  return isa;
}

const QDotKernel* reference(GgmlType t) {
  int count = 0;
  const QDotKernel* all = all_qdot_kernels(&count);
  for (int i = 0; i < count; ++i)
    if (all[i].wtype == t && all[i].isa == Isa::Ref) return &all[i];
  return nullptr;
}

// The non-reference variants of t this run may use.
std::vector<const QDotKernel*> simd_variants(GgmlType t) {
  int count = 0;
  const QDotKernel* all = all_qdot_kernels(&count);
  std::vector<const QDotKernel*> out;
  for (int i = 0; i < count; ++i)
    if (all[i].wtype == t && all[i].isa != Isa::Ref && static_cast<int>(all[i].isa) <= static_cast<int>(isa_limit()))
      out.push_back(&all[i]);
  return out;
}

size_t row_bytes(GgmlType t, int64_t n) {
  uint64_t b = 0;
  EXPECT_TRUE(ggml_row_bytes(t, static_cast<uint64_t>(n), &b));
  return static_cast<size_t>(b);
}

// A copy of a row one byte into a buffer that ends where the row ends.
struct Unaligned {
  explicit Unaligned(const std::vector<uint8_t>& row) : buf(row.size() + 1) {
    std::memcpy(buf.data() + 1, row.data(), row.size());
  }
  const void* data() const { return buf.data() + 1; }
  std::vector<uint8_t> buf;
};

std::vector<float> dequantize(GgmlType t, const std::vector<uint8_t>& row, int64_t n) {
  std::vector<float> y(n);
  codec_for(t)->dequantize_row(row.data(), y.data(), n);
  return y;
}

std::vector<uint8_t> quantize(GgmlType t, const std::vector<float>& x) {
  std::vector<uint8_t> row(row_bytes(t, static_cast<int64_t>(x.size())));
  if (t == GgmlType::Q8_K)
    quantize_activation_row(t, x.data(), row.data(), static_cast<int64_t>(x.size()));
  else
    codec_for(t)->quantize_row(x.data(), row.data(), static_cast<int64_t>(x.size()), nullptr);
  return row;
}

// Float rows: 0 normal, 1 heavy-tailed with a per-block scale spread over 2^-6..2^6, 2 normal
// with one large outlier per 256, 3 ternary-like (-1, 0, 1 plus a little noise: what TQ1_0 /
// TQ2_0 hold in practice; from the other kinds they would keep only the few largest weights).
std::vector<float> random_floats(int64_t n, int kind, std::mt19937& rng) {
  if (kind == 3) {
    std::uniform_real_distribution<float> noise(-0.1f, 0.1f);
    std::vector<float> x(n);
    for (auto& v : x) v = static_cast<float>(static_cast<int>(rng() % 3) - 1) + noise(rng);
    return x;
  }
  std::normal_distribution<float> normal(0.f, 1.f);
  std::student_t_distribution<float> t3(3.f);
  std::uniform_int_distribution<int> octave(-6, 6);
  std::vector<float> x(n);
  for (int64_t b = 0; b < n; b += kQKK) {
    const float scale = kind == 1 ? std::ldexp(1.f, octave(rng)) : 1.f;
    for (int64_t j = b; j < b + kQKK; ++j) x[j] = (kind == 1 ? t3(rng) : normal(rng)) * scale;
    if (kind == 2) x[b + rng() % kQKK] = (rng() & 1) ? 40.f : -40.f;
  }
  return x;
}

// Sets every super-block scale (d, and dmin where the type has one) to 1.
void set_unit_scales(GgmlType t, std::vector<uint8_t>& row) {
  const uint16_t one = f32_to_f16(1.f);
  const size_t bs = ggml_traits(t).type_size;
  std::vector<size_t> at;
  switch (t) {
    case GgmlType::Q2_K: at = {offsetof(BlockQ2K, d), offsetof(BlockQ2K, dmin)}; break;
    case GgmlType::Q3_K: at = {offsetof(BlockQ3K, d)}; break;
    case GgmlType::Q4_K: at = {offsetof(BlockQ4K, d), offsetof(BlockQ4K, dmin)}; break;
    case GgmlType::Q5_K: at = {offsetof(BlockQ5K, d), offsetof(BlockQ5K, dmin)}; break;
    case GgmlType::Q6_K: at = {offsetof(BlockQ6K, d)}; break;
    case GgmlType::IQ4_XS: at = {offsetof(BlockIq4Xs, d)}; break;
    case GgmlType::TQ1_0: at = {offsetof(BlockTq1_0, d)}; break;
    case GgmlType::TQ2_0: at = {offsetof(BlockTq2_0, d)}; break;
    default: FAIL() << "not a K-quant type";
  }
  for (size_t b = 0; b < row.size(); b += bs)
    for (size_t o : at) std::memcpy(&row[b + o], &one, 2);
}

// A Q8_K row with d = 1 and the given codes (|q| <= 127), bsums computed.
std::vector<uint8_t> q8k_row(const std::vector<int>& q) {
  const int64_t nb = static_cast<int64_t>(q.size()) / kQKK;
  std::vector<uint8_t> row(nb * sizeof(BlockQ8K));
  for (int64_t b = 0; b < nb; ++b) {
    BlockQ8K blk{};
    blk.d = 1.f;
    for (int j = 0; j < kQKK; ++j) {
      blk.qs[j] = static_cast<int8_t>(q[b * kQKK + j]);
      blk.bsums[j / 16] = static_cast<int16_t>(blk.bsums[j / 16] + blk.qs[j]);
    }
    std::memcpy(&row[b * sizeof(BlockQ8K)], &blk, sizeof blk);
  }
  return row;
}

// One full-range activation: the extremes half the time.
int full_range_code(std::mt19937& rng) {
  switch (rng() % 4) {
    case 0: return 127;
    case 1: return -127;
    default: return static_cast<int>(rng() % 255) - 127;
  }
}

// Weight rows for the exact checks: random bytes and codec-quantized rows, both with unit
// super-scales.
std::vector<std::vector<uint8_t>> unit_scale_weights(GgmlType t, int64_t n, std::mt19937& rng) {
  std::vector<uint8_t> bytes(row_bytes(t, n));
  for (auto& b : bytes) b = static_cast<uint8_t>(rng());
  std::vector<uint8_t> coded = quantize(t, random_floats(n, 1, rng));
  set_unit_scales(t, bytes);
  set_unit_scales(t, coded);
  return {bytes, coded};
}

// Exact checks of one weight row against one activation row: every variant equals the
// reference, and the reference equals the integer dot of the dequantized (unit-scale) rows.
void expect_exact(GgmlType t, const std::vector<uint8_t>& wrow, const std::vector<int>& q, const std::string& what) {
  const int64_t n = static_cast<int64_t>(q.size());
  double budget = 0;
  for (int v : q) budget += std::abs(v);
  ASSERT_LT(budget * static_cast<double>(max_weight_per_activation(t)), kTwo24) << "test data exceeds the exact range";
  const std::vector<float> wd = dequantize(t, wrow, n);
  int64_t exact = 0;
  for (int64_t j = 0; j < n; ++j) {
    ASSERT_EQ(wd[j], std::nearbyint(wd[j])) << "unit-scale weights should dequantize to integers";
    exact += static_cast<int64_t>(wd[j]) * q[j];
  }
  const Unaligned w(wrow), a(q8k_row(q));
  const float want = reference(t)->dot(n, w.data(), a.data());
  EXPECT_EQ(want, static_cast<float>(exact)) << ggml_type_name(t) << " reference, " << what;
  for (const QDotKernel* k : simd_variants(t))
    EXPECT_EQ(k->dot(n, w.data(), a.data()), want) << k->name << ", " << what;
}

TEST(QDotKQuants, TableHasEveryTypeAtEveryIsa) {
  int count = 0;
  const QDotKernel* all = all_qdot_kernels(&count);
  for (GgmlType t : kTypes) {
    EXPECT_EQ(act_type_for(t), GgmlType::Q8_K);
    for (Isa isa : {Isa::Ref, Isa::Avx2, Isa::Avx512}) {
      const std::string name = "dot_" + std::string(ggml_type_name(t)) + "_q8_K__" + isa_name(isa);
      int found = 0;
      for (int i = 0; i < count; ++i)
        if (all[i].wtype == t && all[i].isa == isa) {
          ++found;
          EXPECT_EQ(std::string(all[i].name), name);
          EXPECT_NE(all[i].dot, nullptr);
        }
      EXPECT_EQ(found, 1) << name;
    }
    const QDotKernel* best = find_qdot(t, Isa::Avx512);
    ASSERT_NE(best, nullptr);
    EXPECT_EQ(best->isa, cpu_best_isa());
  }
}

TEST(QDotKQuants, EmptyRowIsZero) {
  for (GgmlType t : kTypes) {
    const uint8_t dummy[1] = {0};
    EXPECT_EQ(reference(t)->dot(0, dummy, dummy), 0.f);
    for (const QDotKernel* k : simd_variants(t)) EXPECT_EQ(k->dot(0, dummy, dummy), 0.f) << k->name;
  }
}

// Full-range activations in one 8-element window at a time, at every window position of a
// super-block (and, on longer rows, in a random super-block for each position).
TEST(QDotKQuants, ExactWithUnitScalesFullRangeWindows) {
  std::mt19937 rng(11);
  for (GgmlType t : kTypes) {
    SCOPED_TRACE(ggml_type_name(t));
    for (int64_t blocks : kBlockCounts) {
      const int64_t n = blocks * kQKK;
      const auto weights = unit_scale_weights(t, n, rng);
      for (size_t src = 0; src < weights.size(); ++src) {
        for (int pos = 0; pos < kQKK; pos += 8) {
          const int64_t start = static_cast<int64_t>(rng() % blocks) * kQKK + pos;
          std::vector<int> q(n, 0);
          for (int j = 0; j < 8; ++j) q[start + j] = full_range_code(rng);
          expect_exact(t, weights[src], q,
                       (src ? "quantized" : "random-byte") + std::string(" weights, n=") + std::to_string(n) +
                           ", window at " + std::to_string(start));
        }
      }
    }
  }
}

// Every activation non-zero (as far as the 2^24 budget allows): sub-blocks interact through
// the per-block sums, mins and offsets.
TEST(QDotKQuants, ExactWithUnitScalesDenseRows) {
  std::mt19937 rng(12);
  for (GgmlType t : kTypes) {
    SCOPED_TRACE(ggml_type_name(t));
    const double wmax = static_cast<double>(max_weight_per_activation(t));
    for (int64_t blocks : kBlockCounts) {
      const int64_t n = blocks * kQKK;
      const auto weights = unit_scale_weights(t, n, rng);
      const int range = static_cast<int>(std::fmin(127.0, std::fmax(1.0, std::floor((kTwo24 - 1) / (wmax * n)))));
      for (int trial = 0; trial < 4; ++trial) {
        std::vector<int> q(n);
        double budget = 0;
        for (auto& v : q) {
          v = static_cast<int>(rng() % (2 * range + 1)) - range;
          budget += std::abs(v);
        }
        while (budget * wmax >= kTwo24) {  // thin out to the budget
          int& v = q[rng() % n];
          budget -= std::abs(v);
          v = 0;
        }
        for (size_t src = 0; src < weights.size(); ++src)
          expect_exact(t, weights[src], q,
                       (src ? "quantized" : "random-byte") + std::string(" weights, n=") + std::to_string(n) +
                           ", |q| <= " + std::to_string(range));
      }
    }
  }
}

struct Case {
  int64_t n;
  std::vector<uint8_t> w, a;
  std::vector<float> wd, ad;  // dequantized
  double mag;                 // sum |w_j a_j|
  double want;                // float64 dot of the dequantized rows
};

std::vector<Case> quantized_cases(GgmlType t, std::mt19937& rng) {
  std::vector<Case> cases;
  for (int64_t blocks : kBlockCounts)
    for (int kind = 0; kind < 3; ++kind) {
      Case c;
      c.n = blocks * kQKK;
      const bool ternary = t == GgmlType::TQ1_0 || t == GgmlType::TQ2_0;
      c.w = quantize(t, random_floats(c.n, ternary ? 3 : (kind + 1) % 3, rng));
      c.a = quantize(GgmlType::Q8_K, random_floats(c.n, kind, rng));
      c.wd = dequantize(t, c.w, c.n);
      c.ad = dequantize(GgmlType::Q8_K, c.a, c.n);
      c.mag = c.want = 0;
      for (int64_t j = 0; j < c.n; ++j) {
        const double p = static_cast<double>(c.wd[j]) * c.ad[j];
        c.want += p;
        c.mag += std::fabs(p);
      }
      cases.push_back(std::move(c));
    }
  return cases;
}

TEST(QDotKQuants, ReferenceMatchesDequantizedFloat64) {
  std::mt19937 rng(13);
  for (GgmlType t : kTypes) {
    SCOPED_TRACE(ggml_type_name(t));
    for (const Case& c : quantized_cases(t, rng)) {
      const Unaligned w(c.w), a(c.a);
      EXPECT_NEAR(reference(t)->dot(c.n, w.data(), a.data()), c.want, 1e-5 * c.mag) << "n=" << c.n;
    }
  }
}

TEST(QDotKQuants, VariantsMatchReferenceOnQuantizedRows) {
  std::mt19937 rng(14);
  for (GgmlType t : kTypes) {
    SCOPED_TRACE(ggml_type_name(t));
    for (const Case& c : quantized_cases(t, rng)) {
      const Unaligned w(c.w), a(c.a);
      const float want = reference(t)->dot(c.n, w.data(), a.data());
      for (const QDotKernel* k : simd_variants(t))
        EXPECT_NEAR(k->dot(c.n, w.data(), a.data()), want, 1e-6 * c.mag) << k->name << ", n=" << c.n;
    }
  }
}

}  // namespace
}  // namespace lowbit
