// The tile path (qtile.h): every weight type's unpacked tile against the codec's dequantization
// (bit for bit), the AVX2 and AVX-512 kernels against the reference (bit for bit, every
// token-count tail and row tail), and qtile_matmul against the row-by-row dot kernels (float
// rounding only).
// Rows of the matrices sit at odd byte addresses (a row stride of row_bytes is all GGUF allows, so the
// whole matrix starts one byte into its allocation).
#include <cmath>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "kernels/qdot.h"
#include "kernels/qtile.h"
#include "kernels/test_activations.h"
#include "quant/codecs/codec.h"

namespace lowbit {
namespace {

constexpr GgmlType kTypes[] = {GgmlType::Q4_0, GgmlType::Q4_1, GgmlType::Q5_0,  GgmlType::Q5_1,   GgmlType::Q8_0,
                               GgmlType::IQ4_NL, GgmlType::Q2_K, GgmlType::Q3_K, GgmlType::Q4_K, GgmlType::Q5_K,
                               GgmlType::Q6_K, GgmlType::IQ4_XS, GgmlType::TQ2_0, GgmlType::TQ1_0};

// A codec-quantized random matrix (rows × n) starting one byte into its buffer.
struct Matrix {
  std::vector<uint8_t> buf;
  std::vector<float> deq;
  QMatrix q;
};

Matrix make_matrix(GgmlType t, int64_t rows, int64_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> nd(0.0f, 1.0f);
  std::vector<float> w(static_cast<size_t>(rows * n));
  for (float& v : w) v = nd(rng);
  for (int64_t r = 0; r < rows; ++r) w[r * n + (r * 7) % n] *= 8.0f;   // an outlier per row
  uint64_t rb = 0;
  EXPECT_TRUE(ggml_row_bytes(t, n, &rb));
  Matrix m;
  // The codecs work on aligned blocks; the kernels must not assume alignment, so the matrix they
  // read is an odd-address copy.
  std::vector<uint64_t> aligned((rb * rows + 7) / 8);
  quantize_tensor(t, w.data(), aligned.data(), rows, n, nullptr);
  m.deq.resize(w.size());
  dequantize_tensor(t, aligned.data(), m.deq.data(), rows, n);
  m.buf.assign(1 + rb * rows, 0);
  std::memcpy(m.buf.data() + 1, aligned.data(), rb * rows);
  m.q = {t, m.buf.data() + 1, n, rows, rb};
  return m;
}

using testing_util::activations;

int64_t row_len_for(GgmlType t, int64_t blocks) { return blocks * ggml_traits(t).block_size; }

TEST(QTile, UnpackedTileIsTheCodecsDequantization) {
  for (GgmlType t : kTypes) {
    SCOPED_TRACE(std::string(ggml_type_name(t)));
    const TileFormat* f = tile_format(t);
    ASSERT_NE(f, nullptr);
    EXPECT_EQ(f->act, act_type_for(t));
    const int64_t n = row_len_for(t, 3), rows = 45;
    const Matrix m = make_matrix(t, rows, n, 7);
    for (Isa isa : {Isa::Ref, Isa::Avx2, Isa::Avx512}) {
      const TileKernels* k = tile_kernels(isa);
      if (!k) continue;
      WeightTile tile;
      for (int64_t row0 : {int64_t{0}, int64_t{32}}) {
        k->unpack(*f, m.q, row0, tile);
        ASSERT_EQ(tile.n, n);
        for (int r = 0; r < kTileRows; ++r)
          for (int64_t e = 0; e < n; ++e) {
            const int64_t s = e / f->sub;
            const uint8_t u = tile.codes[(e / 4) * 128 + 4 * r + e % 4];
            const float sw = tile.sw[s * kTileRows + r], mw = f->mins ? tile.mw[s * kTileRows + r] : 0.0f;
            if (row0 + r >= rows) {
              ASSERT_EQ(u, 0);
              ASSERT_EQ(sw, 0.0f);
              ASSERT_EQ(mw, 0.0f);
              continue;
            }
            const float prod = sw * static_cast<float>(static_cast<int>(u) - f->off);
            const float w = f->mins ? prod + mw : prod;
            ASSERT_EQ(w, m.deq[(row0 + r) * n + e]) << "row " << row0 + r << " element " << e;
          }
      }
    }
  }
}

class QTileSimd : public ::testing::TestWithParam<Isa> {};

TEST_P(QTileSimd, KernelEqualsReferenceBitForBit) {
  const TileKernels* ref = tile_kernels(Isa::Ref);
  const TileKernels* simd = tile_kernels(GetParam());
  if (!simd) GTEST_SKIP() << "this CPU lacks " << isa_name(GetParam());
  for (GgmlType t : kTypes) {
    SCOPED_TRACE(std::string(ggml_type_name(t)));
    const TileFormat* f = tile_format(t);
    for (int64_t blocks : {1, 2, 5}) {
      const int64_t n = row_len_for(t, blocks);
      for (int64_t rows : {5, 32, 45}) {
        const Matrix m = make_matrix(t, rows, n, static_cast<uint32_t>(blocks * 100 + rows));
        const int64_t T = 11;
        const std::vector<float> x = activations(T, n, 3);
        ActPack a;
        pack_init(*f, n, T, a);
        std::vector<uint8_t> scratch;
        for (int64_t i = 0; i < T; ++i) pack_token(*f, x.data() + i * n, i, a, scratch);
        for (int64_t row0 = 0; row0 < rows; row0 += kTileRows) {
          const int valid = static_cast<int>(std::min<int64_t>(kTileRows, rows - row0));
          WeightTile tr, ts;
          ref->unpack(*f, m.q, row0, tr);
          simd->unpack(*f, m.q, row0, ts);
          ASSERT_EQ(tr.codes, ts.codes);
          ASSERT_EQ(tr.sw, ts.sw);
          ASSERT_EQ(tr.mw, ts.mw);
          // Every token-count tail: [t0, t1) with t1 - t0 = 1..T.
          for (int64_t t1 = 1; t1 <= T; ++t1) {
            const int64_t t0 = t1 > 6 ? 2 : 0;
            std::vector<float> yr(static_cast<size_t>(T * rows), -1.0f), ys = yr;
            ref->gemm(*f, tr, a, t0, t1, yr.data(), rows, row0, valid);
            simd->gemm(*f, ts, a, t0, t1, ys.data(), rows, row0, valid);
            for (size_t i = 0; i < yr.size(); ++i)
              ASSERT_EQ(std::memcmp(&yr[i], &ys[i], 4), 0) << "index " << i << ": " << yr[i] << " vs " << ys[i]
                                                            << " (t1 " << t1 << ", row0 " << row0 << ")";
          }
        }
      }
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Isas, QTileSimd, ::testing::Values(Isa::Avx2, Isa::Avx512),
                         [](const ::testing::TestParamInfo<Isa>& p) { return std::string(isa_name(p.param)); });

// The tile product is the dot kernels' sum in another float order: within 1e-5 of Σ|w·x|.
TEST(QTile, MatmulAgreesWithTheDotKernels) {
  for (Isa isa : {Isa::Ref, Isa::Avx2, Isa::Avx512}) {
    if (!tile_kernels(isa)) continue;
    for (GgmlType t : kTypes) {
      SCOPED_TRACE(std::string(ggml_type_name(t)));
      const int64_t n = row_len_for(t, t == GgmlType::Q4_0 || t == GgmlType::Q8_0 ? 24 : 3), rows = 70, T = 9;
      const Matrix m = make_matrix(t, rows, n, 11);
      const std::vector<float> x = activations(T, n, 5);
      std::vector<float> y(static_cast<size_t>(T * rows));
      ASSERT_TRUE(qtile_matmul(m.q, x.data(), T, y.data(), isa));
      const QDotKernel* dot = find_qdot(t, Isa::Ref);
      uint64_t ab = 0;
      ggml_row_bytes(act_type_for(t), n, &ab);
      std::vector<uint8_t> arow(ab);
      for (int64_t i = 0; i < T; ++i) {
        quantize_activation_row(act_type_for(t), x.data() + i * n, arow.data(), n);
        for (int64_t o = 0; o < rows; ++o) {
          double mag = 0;
          for (int64_t e = 0; e < n; ++e) mag += std::fabs(m.deq[o * n + e] * x[i * n + e]);
          const float want = dot->dot(n, m.q.data + o * m.q.row_bytes, arow.data());
          ASSERT_NEAR(y[i * rows + o], want, 1e-5 * mag + 1e-6) << "token " << i << " row " << o;
        }
      }
    }
  }
}

// The packed decode kernel (Q4_0, IQ4_NL, Q8_0 on AVX-512) against the dot kernels' reference:
// every block-count tail (1..9 blocks), odd row counts, 1..3 tokens.
TEST(QTile, DecodeKernelAgreesWithTheDotKernels) {
  if (cpu_best_isa() != Isa::Avx512) GTEST_SKIP() << "no AVX-512 VNNI on this CPU";
  for (GgmlType t : {GgmlType::Q4_0, GgmlType::IQ4_NL, GgmlType::Q8_0}) {
    SCOPED_TRACE(std::string(ggml_type_name(t)));
    for (int64_t blocks = 1; blocks <= 9; ++blocks) {
      const int64_t n = 32 * blocks, rows = 37;
      const Matrix m = make_matrix(t, rows, n, static_cast<uint32_t>(blocks));
      for (int64_t T = 1; T <= 3; ++T) {
        const std::vector<float> x = activations(T, n, static_cast<uint32_t>(T));
        std::vector<float> y(static_cast<size_t>(T * rows));
        ASSERT_TRUE(qgemv_matmul(m.q, x.data(), T, y.data(), Isa::Avx512));
        const QDotKernel* dot = find_qdot(t, Isa::Ref);
        std::vector<uint8_t> arow(static_cast<size_t>(n / 32 * 34));
        for (int64_t i = 0; i < T; ++i) {
          quantize_activation_row(GgmlType::Q8_0, x.data() + i * n, arow.data(), n);
          for (int64_t o = 0; o < rows; ++o) {
            double mag = 0;
            for (int64_t e = 0; e < n; ++e) mag += std::fabs(m.deq[o * n + e] * x[i * n + e]);
            ASSERT_NEAR(y[i * rows + o], dot->dot(n, m.q.data + o * m.q.row_bytes, arow.data()), 1e-5 * mag + 1e-6)
                << "blocks " << blocks << " token " << i << " row " << o;
          }
        }
      }
    }
  }
  QMatrix q6{GgmlType::Q6_K, nullptr, 256, 1, 210};
  EXPECT_FALSE(qgemv_matmul(q6, nullptr, 1, nullptr, Isa::Avx512));
}

TEST(QTile, TypesWithoutAnUnpackerDecline) {
  for (GgmlType t : {GgmlType::F32, GgmlType::F16, GgmlType::BF16}) {
    EXPECT_EQ(tile_format(t), nullptr);
    QMatrix w{t, nullptr, 256, 1, 0};
    float x[256] = {}, y[1];
    EXPECT_FALSE(qtile_matmul(w, x, 1, y, Isa::Ref));
  }
}

}  // namespace
}  // namespace lowbit
