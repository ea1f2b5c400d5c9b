// The legacy dot products (F32, F16, BF16, Q4_0, Q4_1, Q5_0, Q5_1, Q8_0, IQ4_NL): every variant
// in the kernel list that this run may use, against its reference, and the references against
// the codecs (a float64 dot of the dequantized rows).
//
// Three kinds of rows:
//  - unit scales (d = 1) with random codes over the full code range: every product, partial
//    sum and block term is an integer below 2^24, so any float summation order is exact and
//    every variant must equal the reference bit for bit; an integer mistake cannot hide in a
//    tolerance;
//  - extreme codes (largest magnitudes, random signs) on short rows: the i16/i32 saturation
//    edges of maddubs/dpbusd; and activation byte -128, exact wherever a variant claims it;
//  - codec-quantized random rows with real scales: within 1e-6 of the reference, relative to
//    sum |w_j a_j| (the size of the terms; relative to the result itself would be meaningless
//    when random signs cancel).
// Rows sit one byte past an allocation's start and end exactly at its end (ASan sees overreads).
// The variants run are those at or below active_isa(): LOWBIT_ISA=avx2 / ref emulates a CPU
// without AVX-512 / AVX2.
#include <cmath>
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

constexpr GgmlType kLegacyTypes[] = {GgmlType::F32,  GgmlType::F16,  GgmlType::BF16,
                                     GgmlType::Q4_0, GgmlType::Q4_1, GgmlType::Q5_0,
                                     GgmlType::Q5_1, GgmlType::Q8_0, GgmlType::IQ4_NL};
constexpr int64_t kBlockCounts[] = {1, 2, 3, 7, 8, 9, 31, 64, 128};
constexpr double kTwo24 = 16777216.0;

bool is_float_type(GgmlType t) { return t == GgmlType::F32 || t == GgmlType::F16 || t == GgmlType::BF16; }
bool has_min(GgmlType t) { return t == GgmlType::Q4_1 || t == GgmlType::Q5_1; }

// Lengths to test: whole blocks; the float types (block size 1) also get ragged lengths.
std::vector<int64_t> lengths_for(GgmlType t) {
  std::vector<int64_t> ns;
  for (int64_t b : kBlockCounts) ns.push_back(b * kQK32);
  if (is_float_type(t))
    for (int64_t n : {1, 3, 15, 17, 33, 63, 65, 100, 4097}) ns.push_back(n);
  return ns;
}

std::vector<const QDotKernel*> variants(GgmlType t) {
  int count = 0;
  const QDotKernel* all = all_qdot_kernels(&count);
  std::vector<const QDotKernel*> out;
  for (int i = 0; i < count; ++i)
    if (all[i].wtype == t && static_cast<int>(all[i].isa) <= static_cast<int>(active_isa())) out.push_back(&all[i]);
  return out;
}

const QDotKernel* reference(GgmlType t) {
  int count = 0;
  const QDotKernel* all = all_qdot_kernels(&count);
  for (int i = 0; i < count; ++i)
    if (all[i].wtype == t && all[i].isa == Isa::Ref) return &all[i];
  return nullptr;
}

size_t row_bytes(GgmlType t, int64_t n) {
  uint64_t b = 0;
  EXPECT_TRUE(ggml_row_bytes(t, static_cast<uint64_t>(n), &b));
  return static_cast<size_t>(b);
}

// A copy of row one byte into a buffer that ends where the row ends.
struct Unaligned {
  explicit Unaligned(const std::vector<uint8_t>& row) : buf(row.size() + 1) {
    std::memcpy(buf.data() + 1, row.data(), row.size());
  }
  const void* get() const { return buf.data() + 1; }
  std::vector<uint8_t> buf;
};

std::vector<float> dequantize(GgmlType t, const std::vector<uint8_t>& row, int64_t n) {
  std::vector<float> out(n);
  codec_for(t)->dequantize_row(row.data(), out.data(), n);
  return out;
}

uint16_t u16_at(const std::vector<uint8_t>& row, size_t off) {
  uint16_t v;
  std::memcpy(&v, row.data() + off, 2);
  return v;
}

// What the reference must compute, from the codecs' dequantized rows, in double: sum w_j a_j,
// except that the Q4_1/Q5_1 min term uses the activation block's stored s = f16(d * sum q)
// rather than the exact sum of its dequantized values (llama.cpp's definition; s is rounded).
// mag: sum |w_j a_j| (+ |m s|), the yardstick for rounding tolerances.
struct Expected {
  double value = 0;
  double mag = 0;
};

Expected expected_dot(GgmlType wt, const std::vector<uint8_t>& w, const std::vector<uint8_t>& a, int64_t n) {
  const GgmlType at = act_type_for(wt);
  const std::vector<float> dw = dequantize(wt, w, n), da = dequantize(at, a, n);
  Expected e;
  for (int64_t j = 0; j < n; ++j) {
    e.value += static_cast<double>(dw[j]) * da[j];
    e.mag += std::fabs(static_cast<double>(dw[j]) * da[j]);
  }
  if (has_min(wt)) {
    const size_t wb = wt == GgmlType::Q4_1 ? sizeof(BlockQ4_1) : sizeof(BlockQ5_1);
    for (int64_t b = 0; b < n / kQK32; ++b) {
      const double m = f16_to_f32(u16_at(w, b * wb + 2));
      const double s = f16_to_f32(u16_at(a, b * sizeof(BlockQ8_1) + 2));
      double sum_a = 0;
      for (int j = 0; j < kQK32; ++j) sum_a += da[b * kQK32 + j];
      e.value += m * (s - sum_a);
      e.mag += std::fabs(m * s);
    }
  }
  return e;
}

// ---------------------------------------------------------------------------------------
// Rows with unit scales and chosen codes.

int rand_int(std::mt19937& rng, int lo, int hi) { return std::uniform_int_distribution<int>(lo, hi)(rng); }

// Code value of weight element j for the unit-scale rows: full range, or only the extremes.
struct CodePick {
  bool extremes;
  int pick(std::mt19937& rng, int lo, int hi) const {
    return extremes ? (rand_int(rng, 0, 1) ? hi : lo) : rand_int(rng, lo, hi);
  }
};

void put_u16(std::vector<uint8_t>* row, size_t off, uint16_t v) { std::memcpy(row->data() + off, &v, 2); }

// Packs 32 codes (0..15 each) into the nibble layout: byte j = code j | code j+16 << 4.
void put_nibbles(uint8_t* qs, const int* c) {
  for (int j = 0; j < 16; ++j) qs[j] = static_cast<uint8_t>((c[j] & 15) | (c[j + 16] & 15) << 4);
}

// Five-bit codes: low nibbles in qs, bit 4 of code j in bit j of qh.
void put_q5(uint8_t* qh, uint8_t* qs, const int* c) {
  put_nibbles(qs, c);
  uint32_t h = 0;
  for (int j = 0; j < 32; ++j) h |= static_cast<uint32_t>((c[j] >> 4) & 1) << j;
  std::memcpy(qh, &h, 4);
}

const uint16_t kF16One = f32_to_f16(1.0f);

// A weight row of n elements with d = 1 (and for Q4_1/Q5_1 a small integer min).
std::vector<uint8_t> unit_weight_row(GgmlType t, int64_t n, std::mt19937& rng, CodePick cp) {
  std::vector<uint8_t> row(row_bytes(t, n));
  const int64_t nb = n / kQK32;
  int c[32];
  switch (t) {
    case GgmlType::Q4_0:
    case GgmlType::IQ4_NL:
      for (int64_t b = 0; b < nb; ++b) {
        uint8_t* blk = row.data() + b * sizeof(BlockQ4_0);
        put_u16(&row, b * sizeof(BlockQ4_0), kF16One);
        for (int& v : c) v = cp.pick(rng, 0, 15);
        put_nibbles(blk + 2, c);
      }
      break;
    case GgmlType::Q4_1:
      for (int64_t b = 0; b < nb; ++b) {
        uint8_t* blk = row.data() + b * sizeof(BlockQ4_1);
        put_u16(&row, b * sizeof(BlockQ4_1), kF16One);
        put_u16(&row, b * sizeof(BlockQ4_1) + 2, f32_to_f16(static_cast<float>(rand_int(rng, -4, 4))));
        for (int& v : c) v = cp.pick(rng, 0, 15);
        put_nibbles(blk + 4, c);
      }
      break;
    case GgmlType::Q5_0:
      for (int64_t b = 0; b < nb; ++b) {
        uint8_t* blk = row.data() + b * sizeof(BlockQ5_0);
        put_u16(&row, b * sizeof(BlockQ5_0), kF16One);
        for (int& v : c) v = cp.pick(rng, 0, 31);
        put_q5(blk + 2, blk + 6, c);
      }
      break;
    case GgmlType::Q5_1:
      for (int64_t b = 0; b < nb; ++b) {
        uint8_t* blk = row.data() + b * sizeof(BlockQ5_1);
        put_u16(&row, b * sizeof(BlockQ5_1), kF16One);
        put_u16(&row, b * sizeof(BlockQ5_1) + 2, f32_to_f16(static_cast<float>(rand_int(rng, -4, 4))));
        for (int& v : c) v = cp.pick(rng, 0, 31);
        put_q5(blk + 4, blk + 8, c);
      }
      break;
    case GgmlType::Q8_0:  // the whole int8 range, -128 included (a valid byte in a file)
      for (int64_t b = 0; b < nb; ++b) {
        uint8_t* blk = row.data() + b * sizeof(BlockQ8_0);
        put_u16(&row, b * sizeof(BlockQ8_0), kF16One);
        for (int j = 0; j < 32; ++j) blk[2 + j] = static_cast<uint8_t>(cp.pick(rng, -128, 127));
      }
      break;
    default:
      ADD_FAILURE() << "no unit-scale rows for " << ggml_type_name(t);
  }
  return row;
}

// An activation row (Q8_0 or Q8_1) with d = 1 and codes in lo..hi; Q8_1's s = f16(sum).
std::vector<uint8_t> unit_act_row(GgmlType at, int64_t n, int lo, int hi, std::mt19937& rng, CodePick cp) {
  std::vector<uint8_t> row(row_bytes(at, n));
  const size_t bb = at == GgmlType::Q8_1 ? sizeof(BlockQ8_1) : sizeof(BlockQ8_0);
  const size_t qoff = at == GgmlType::Q8_1 ? 4 : 2;
  for (int64_t b = 0; b < n / kQK32; ++b) {
    uint8_t* blk = row.data() + b * bb;
    int sum = 0;
    for (int j = 0; j < 32; ++j) {
      const int v = cp.pick(rng, lo, hi);
      blk[qoff + j] = static_cast<uint8_t>(static_cast<int8_t>(v));
      sum += v;
    }
    put_u16(&row, b * bb, kF16One);
    if (at == GgmlType::Q8_1) put_u16(&row, b * bb + 2, f32_to_f16(static_cast<float>(sum)));
  }
  return row;
}

// Largest |code value| (offset applied; Q4_1/Q5_1 mins are within +-4) of the unit-scale
// weight rows, for the 2^24 bound.
int max_weight(GgmlType t) {
  switch (t) {
    case GgmlType::Q4_0: return 8;
    case GgmlType::Q4_1: return 15;
    case GgmlType::Q5_0: return 16;
    case GgmlType::Q5_1: return 31;
    case GgmlType::Q8_0: return 128;
    case GgmlType::IQ4_NL: return 127;
    default: return 0;
  }
}

// Float rows of small integers (exact in F16/BF16/F32; every product and sum exact too).
std::vector<uint8_t> integer_float_row(GgmlType t, int64_t n, int lim, std::mt19937& rng, CodePick cp) {
  std::vector<float> x(n);
  for (auto& v : x) v = static_cast<float>(cp.pick(rng, -lim, lim));
  std::vector<uint8_t> row(row_bytes(t, n));
  codec_for(t)->quantize_row(x.data(), row.data(), n, nullptr);
  return row;
}

// Runs every variant (but those skip names) on rows (w, a) and checks bit equality with the
// reference, and the reference against the exact value computed from the codecs.
void expect_exact(GgmlType t, int64_t n, const std::vector<uint8_t>& w, const std::vector<uint8_t>& a,
                  bool (*skip)(GgmlType, Isa) = nullptr) {
  const Expected e = expected_dot(t, w, a, n);
  ASSERT_LT(e.mag, kTwo24) << "test rows too large for exact float sums";
  const Unaligned uw(w), ua(a);
  const float want = static_cast<float>(e.value);  // an integer below 2^24: exact
  const float ref = reference(t)->dot(n, uw.get(), ua.get());
  EXPECT_EQ(ref, want) << "reference vs codecs, n=" << n;
  for (const QDotKernel* k : variants(t)) {
    if (skip && skip(t, k->isa)) continue;
    EXPECT_EQ(k->dot(n, uw.get(), ua.get()), ref) << k->name << " n=" << n;
  }
}

// ---------------------------------------------------------------------------------------

TEST(QDotLegacy, EveryTypeHasEveryVariantNamedAndDispatched) {
  for (GgmlType t : kLegacyTypes) {
    SCOPED_TRACE(std::string(ggml_type_name(t)));
    const std::string stem = "dot_" + std::string(ggml_type_name(t)) + "_" + std::string(ggml_type_name(act_type_for(t))) + "__";
    int count = 0;
    const QDotKernel* all = all_qdot_kernels(&count);
    for (Isa isa : {Isa::Ref, Isa::Avx2, Isa::Avx512}) {
      int found = 0;
      for (int i = 0; i < count; ++i)
        if (all[i].wtype == t && all[i].isa == isa) {
          ++found;
          EXPECT_EQ(std::string(all[i].name), stem + isa_name(isa));
          EXPECT_NE(all[i].dot, nullptr);
        }
      EXPECT_EQ(found, 1) << isa_name(isa);
    }
    // Dispatch: the best variant at or below the request, never above the hardware.
    ASSERT_NE(find_qdot(t, Isa::Ref), nullptr);
    EXPECT_EQ(find_qdot(t, Isa::Ref)->isa, Isa::Ref);
    EXPECT_EQ(find_qdot(t, active_isa())->isa, active_isa());
    EXPECT_EQ(find_qdot(t, Isa::Avx512)->isa, cpu_best_isa());
  }
}

TEST(QDotLegacy, UnitScalesMatchReferenceExactly) {
  std::mt19937 rng(7);
  const CodePick full{false};
  for (GgmlType t : kLegacyTypes) {
    SCOPED_TRACE(std::string(ggml_type_name(t)));
    for (int64_t n : lengths_for(t)) {
      if (is_float_type(t)) {
        // sum |w a| <= n * lim^2 < 2^24; BF16 holds integers exactly up to 256.
        const int lim = std::min(255, static_cast<int>(std::sqrt((kTwo24 - 1) / static_cast<double>(n))));
        expect_exact(t, n, integer_float_row(t, n, lim, rng, full), integer_float_row(t, n, lim, rng, full));
        continue;
      }
      // sum |w a| + sum |m s| <= n * max_w * lim + blocks * 4 * 32 * lim < 2^24.
      const double per_lim = static_cast<double>(n) * max_weight(t) + (has_min(t) ? n * 4.0 : 0.0);
      const int lim = std::min(127, static_cast<int>((kTwo24 - 1) / per_lim));
      const auto w = unit_weight_row(t, n, rng, full);
      const auto a = unit_act_row(act_type_for(t), n, -lim, lim, rng, full);
      expect_exact(t, n, w, a);
    }
  }
}

TEST(QDotLegacy, ExtremeCodesMatchReferenceExactly) {
  std::mt19937 rng(11);
  const CodePick ext{true};
  for (GgmlType t : kLegacyTypes) {
    if (is_float_type(t)) continue;
    SCOPED_TRACE(std::string(ggml_type_name(t)));
    for (int64_t nb : {1, 2, 3, 4, 5, 7, 8, 9}) {
      for (int rep = 0; rep < 4; ++rep) {
        const int64_t n = nb * kQK32;
        expect_exact(t, n, unit_weight_row(t, n, rng, ext), unit_act_row(act_type_for(t), n, -127, 127, rng, ext));
      }
    }
  }
}

// Activation byte -128 is outside what Q8_0/Q8_1 quantization writes (codes are within
// +-127), but a kernel should not depend on that unless it says so: only the AVX2 sign trick
// (Q8_0, IQ4_NL weights) does, documented in qdot_legacy_avx2.cc.
bool sign_trick_variant(GgmlType t, Isa isa) {
  return isa == Isa::Avx2 && (t == GgmlType::Q8_0 || t == GgmlType::IQ4_NL);
}

TEST(QDotLegacy, ActivationMinus128IsExactWhereClaimed) {
  std::mt19937 rng(13);
  for (GgmlType t : kLegacyTypes) {
    if (is_float_type(t)) continue;
    SCOPED_TRACE(std::string(ggml_type_name(t)));
    for (int64_t nb : {1, 3, 4, 9}) {
      const int64_t n = nb * kQK32;
      expect_exact(t, n, unit_weight_row(t, n, rng, CodePick{true}),
                   unit_act_row(act_type_for(t), n, -128, -127, rng, CodePick{true}), sign_trick_variant);
      expect_exact(t, n, unit_weight_row(t, n, rng, CodePick{false}),
                   unit_act_row(act_type_for(t), n, -128, 127, rng, CodePick{false}), sign_trick_variant);
    }
  }
}

TEST(QDotLegacy, QuantizedRowsMatchReferenceAndCodecs) {
  std::mt19937 rng(3);
  std::normal_distribution<float> normal(0.f, 1.f);
  std::student_t_distribution<float> t3(3.f);
  for (GgmlType t : kLegacyTypes) {
    SCOPED_TRACE(std::string(ggml_type_name(t)));
    const GgmlType at = act_type_for(t);
    for (int64_t n : lengths_for(t)) {
      for (int heavy = 0; heavy < 2; ++heavy) {
        std::vector<float> xw(n), xa(n);
        for (auto& v : xw) v = heavy ? 0.02f * t3(rng) : normal(rng) + 0.3f;  // offset: mins matter
        for (auto& v : xa) v = heavy ? 3.f * t3(rng) : normal(rng);
        std::vector<uint8_t> w(row_bytes(t, n)), a(row_bytes(at, n));
        codec_for(t)->quantize_row(xw.data(), w.data(), n, nullptr);
        quantize_activation_row(at, xa.data(), a.data(), n);
        const Expected e = expected_dot(t, w, a, n);
        const Unaligned uw(w), ua(a);
        const float ref = reference(t)->dot(n, uw.get(), ua.get());
        EXPECT_NEAR(ref, e.value, 1e-5 * e.mag) << "reference vs codecs, n=" << n;
        for (const QDotKernel* k : variants(t))
          EXPECT_NEAR(k->dot(n, uw.get(), ua.get()), ref, 1e-6 * e.mag) << k->name << " n=" << n;
      }
    }
  }
}

TEST(QDotLegacy, EmptyRowIsZero) {
  for (GgmlType t : kLegacyTypes)
    for (const QDotKernel* k : variants(t)) {
      const uint8_t dummy[1] = {0};
      EXPECT_EQ(k->dot(0, dummy, dummy), 0.0f) << k->name;
    }
}

}  // namespace
}  // namespace lowbit
