// The interleaved layout (repack.h): repacking is a lossless reordering (round trip), the group
// reference equals the dequantized product up to float rounding, the AVX-512 kernel equals the
// reference bit for bit (row tails, one to three blocks, several tokens), and qmatmul on an
// interleaved matrix agrees with the same matrix in rows — through the decode kernels (float
// rounding) and through the tile kernels for batches (bit for bit: the same tile).
#include <cmath>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "kernels/qmatmul.h"
#include "kernels/qtile.h"
#include "kernels/repack.h"
#include "kernels/test_activations.h"
#include "quant/codecs/codec.h"

namespace lowbit {
namespace {

constexpr GgmlType kTypes[] = {GgmlType::Q4_0, GgmlType::IQ4_NL, GgmlType::Q4_K};

struct Matrix {
  std::vector<uint8_t> rows, packed;
  std::vector<float> deq;
  QMatrix plain, inter;
};

// A codec-quantized random matrix (with an outlier per row), in rows and interleaved.
Matrix make_matrix(GgmlType t, int64_t out, int64_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> nd(0.0f, 1.0f);
  std::vector<float> w(static_cast<size_t>(out * n));
  for (float& v : w) v = nd(rng);
  for (int64_t r = 0; r < out; ++r) w[r * n + (r * 7) % n] *= 8.0f;
  uint64_t rb = 0;
  EXPECT_TRUE(ggml_row_bytes(t, n, &rb));
  Matrix m;
  std::vector<uint64_t> aligned((rb * out + 7) / 8);
  quantize_tensor(t, w.data(), aligned.data(), out, n, nullptr);
  m.rows.assign(rb * out, 0);
  std::memcpy(m.rows.data(), aligned.data(), rb * out);
  m.deq.resize(w.size());
  dequantize_tensor(t, aligned.data(), m.deq.data(), out, n);
  m.plain = {t, m.rows.data(), n, out, rb};
  m.packed.assign(repacked_bytes(rb, out), 0xAB);
  repack_rows(m.plain, m.packed.data());
  m.inter = m.plain;
  m.inter.data = m.packed.data();
  m.inter.layout = WeightLayout::Interleaved16;
  return m;
}

using testing_util::activations;

int64_t row_len(GgmlType t, int64_t blocks) { return blocks * repack_format(t)->block; }

TEST(Repack, TraitsDescribeWholeBlocks) {
  for (GgmlType t : kTypes) {
    SCOPED_TRACE(std::string(ggml_type_name(t)));
    const RepackFormat* f = repack_format(t);
    ASSERT_NE(f, nullptr);
    EXPECT_EQ(f->block, static_cast<int>(ggml_traits(t).block_size));
    EXPECT_EQ(f->block_bytes, static_cast<int>(ggml_traits(t).type_size));
    int covered = 0;   // the fields tile the block struct exactly, in order
    for (int i = 0; i < f->nfields; ++i) {
      EXPECT_EQ(f->fields[i].offset, covered);
      EXPECT_EQ(f->fields[i].size % f->fields[i].unit, 0);
      covered += f->fields[i].size;
    }
    EXPECT_EQ(covered, f->block_bytes);
  }
  EXPECT_EQ(repack_format(GgmlType::Q8_0), nullptr);
  EXPECT_EQ(repacked_bytes(18, 16), 16u * 18);
  EXPECT_EQ(repacked_bytes(18, 17), 32u * 18);
}

TEST(Repack, RoundTripIsLossless) {
  for (GgmlType t : kTypes) {
    SCOPED_TRACE(std::string(ggml_type_name(t)));
    for (int64_t out : {1, 15, 16, 17, 40})
      for (int64_t blocks : {1, 3}) {
        const Matrix m = make_matrix(t, out, row_len(t, blocks), static_cast<uint32_t>(out * 10 + blocks));
        // Padding rows are zero.
        const uint64_t real = m.plain.row_bytes * out, all = m.packed.size();
        EXPECT_EQ(all, repacked_bytes(m.plain.row_bytes, out));
        std::vector<uint8_t> back(real);
        unrepack_rows(m.inter, 0, out, back.data());
        EXPECT_EQ(back, m.rows) << "out " << out << " blocks " << blocks;
        // Any sub-range of rows.
        if (out > 3) {
          std::vector<uint8_t> mid(2 * m.plain.row_bytes);
          unrepack_rows(m.inter, out - 3, 2, mid.data());
          EXPECT_EQ(0, std::memcmp(mid.data(), m.rows.data() + (out - 3) * m.plain.row_bytes, mid.size()));
        }
      }
  }
}

TEST(Repack, PaddingRowsAreZero) {
  const Matrix m = make_matrix(GgmlType::Q4_0, 17, 64, 5);
  // The second group holds row 16 and fifteen zero rows: every scale but row 0's is zero.
  const uint8_t* g = m.packed.data() + 16 * m.plain.row_bytes;
  for (int b = 0; b < 2; ++b)
    for (int r = 1; r < kRepackRows; ++r) {
      EXPECT_EQ(g[b * 288 + 2 * r], 0);
      EXPECT_EQ(g[b * 288 + 2 * r + 1], 0);
    }
}

TEST(Repack, ReferenceIsTheDequantizedProduct) {
  const RepackKernels* ref = repack_kernels(Isa::Ref);
  ASSERT_NE(ref, nullptr);
  for (GgmlType t : kTypes) {
    SCOPED_TRACE(std::string(ggml_type_name(t)));
    const int64_t n = row_len(t, 3), out = 16;
    const Matrix m = make_matrix(t, out, n, 11);
    const int64_t T = 3;
    const std::vector<float> x = activations(T, n, 4);
    RepackActs a;
    std::vector<uint8_t> scratch;
    repack_acts(t, x.data(), n, T, a, scratch);
    for (int64_t tok = 0; tok < T; ++tok) {
      float y[kRepackRows];
      ref->group(t, m.packed.data(), n, a, tok, y);
      for (int r = 0; r < out; ++r) {
        double exact = 0, mag = 0;
        for (int64_t e = 0; e < n; ++e) {
          exact += static_cast<double>(m.deq[r * n + e]) * x[tok * n + e];
          mag += std::fabs(static_cast<double>(m.deq[r * n + e]) * x[tok * n + e]);
        }
        // The activations are rounded to 8 bits: ≈ 1/254 of each block's max, relative.
        EXPECT_NEAR(y[r], exact, 0.02 * mag) << "token " << tok << " row " << r;
      }
    }
  }
}

TEST(Repack, Avx512EqualsReferenceBitForBit) {
  const RepackKernels* ref = repack_kernels(Isa::Ref);
  const RepackKernels* simd = repack_kernels(Isa::Avx512);
  if (!simd) GTEST_SKIP() << "this CPU lacks avx512 (VNNI)";
  for (GgmlType t : kTypes) {
    SCOPED_TRACE(std::string(ggml_type_name(t)));
    for (int64_t blocks : {1, 2, 3, 8})
      for (int64_t out : {16, 21}) {
        const int64_t n = row_len(t, blocks);
        const Matrix m = make_matrix(t, out, n, static_cast<uint32_t>(blocks * 31 + out));
        const int64_t T = 7;   // the batched kernel's token blocks of four and a tail of three
        const std::vector<float> x = activations(T, n, static_cast<uint32_t>(blocks));
        RepackActs a;
        std::vector<uint8_t> scratch;
        repack_acts(t, x.data(), n, T, a, scratch);
        for (int64_t g = 0; g * kRepackRows < out; ++g) {
          const uint8_t* gp = m.packed.data() + g * kRepackRows * m.plain.row_bytes;
          std::vector<float> batched(T * kRepackRows);
          simd->groups(t, gp, n, a, 0, T, batched.data(), kRepackRows);
          for (int64_t tok = 0; tok < T; ++tok) {
            float yr[kRepackRows], ys[kRepackRows];
            ref->group(t, gp, n, a, tok, yr);
            simd->group(t, gp, n, a, tok, ys);
            for (int r = 0; r < kRepackRows; ++r) {
              ASSERT_EQ(std::memcmp(&yr[r], &ys[r], 4), 0)
                  << "blocks " << blocks << " group " << g << " token " << tok << " row " << r << ": " << yr[r] << " vs " << ys[r];
              ASSERT_EQ(std::memcmp(&yr[r], &batched[tok * kRepackRows + r], 4), 0)
                  << "batched: blocks " << blocks << " group " << g << " token " << tok << " row " << r;
            }
          }
        }
      }
  }
}

TEST(Repack, TileUnpackAvx512EqualsReference) {
  if (cpu_best_isa() != Isa::Avx512) GTEST_SKIP() << "this CPU lacks avx512 (VNNI)";
  for (GgmlType t : kTypes) {
    SCOPED_TRACE(std::string(ggml_type_name(t)));
    const TileFormat* f = tile_format(t);
    for (int64_t out : {16, 21, 40}) {
      const Matrix m = make_matrix(t, out, row_len(t, 2), static_cast<uint32_t>(out));
      for (int64_t row0 = 0; row0 < out; row0 += kTileRows) {
        WeightTile a, b;
        unpack_tile_interleaved(*f, m.inter, row0, a, Isa::Ref);
        unpack_tile_interleaved(*f, m.inter, row0, b, Isa::Avx512);
        EXPECT_EQ(a.codes, b.codes);
        ASSERT_EQ(a.sw.size(), b.sw.size());
        ASSERT_EQ(a.mw.size(), b.mw.size());
        // Bitwise (memcmp on empty vectors would pass null pointers).
        EXPECT_TRUE(a.sw.empty() || std::memcmp(a.sw.data(), b.sw.data(), 4 * a.sw.size()) == 0);
        EXPECT_TRUE(a.mw.empty() || std::memcmp(a.mw.data(), b.mw.data(), 4 * a.mw.size()) == 0);
      }
    }
  }
}

TEST(Repack, QmatmulOnInterleavedMatchesRows) {
  std::vector<uint8_t> scratch;
  for (GgmlType t : kTypes) {
    SCOPED_TRACE(std::string(ggml_type_name(t)));
    const int64_t n = row_len(t, 2);
    for (int64_t out : {7, 16, 45})
      for (int64_t T : {1, 3, 8, 13}) {
        const Matrix m = make_matrix(t, out, n, static_cast<uint32_t>(out + 100 * T));
        const std::vector<float> x = activations(T, n, static_cast<uint32_t>(T));
        std::vector<float> y_rows(static_cast<size_t>(T * out)), y_inter(y_rows.size(), NAN), y_ref(y_rows.size());
        qmatmul(m.plain, x.data(), T, y_rows.data(), scratch);
        qmatmul(m.inter, x.data(), T, y_inter.data(), scratch);
        qmatmul__ref(m.inter, x.data(), T, y_ref.data());
        for (int64_t i = 0; i < T * out; ++i) {
          const int64_t tok = i / out, r = i % out;
          double mag = 0;
          for (int64_t e = 0; e < n; ++e) mag += std::fabs(static_cast<double>(m.deq[r * n + e]) * x[tok * n + e]);
          if (T >= 8 && tile_format(t)->order != TileOrder::K8)   // batched through the same tile
            ASSERT_EQ(y_inter[i], y_rows[i]) << "batch: the same tile, the same result (T " << T << ", i " << i << ")";
          else ASSERT_NEAR(y_inter[i], y_rows[i], 1e-5 * mag + 1e-6) << "T " << T << " i " << i;
          ASSERT_NEAR(y_inter[i], y_ref[i], 0.02 * mag) << "T " << T << " i " << i;
        }
      }
  }
}

}  // namespace
}  // namespace lowbit
