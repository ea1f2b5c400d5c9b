// The codec table, the whole-tensor helpers, and hand-built blocks that exercise every code of
// every format (expected values computed from the layouts documented in blocks.h).
#include "quant/codecs/codec.h"

#include <cmath>
#include <cstring>
#include <random>
#include <vector>

#include <gtest/gtest.h>

#include "core/error.h"
#include "core/half.h"
#include "quant/codecs/blocks.h"
#include "quant/codecs/codec_testing.h"

namespace lowbit {
namespace {

// ---------------------------------------------------------------------------------------
// Table

TEST(CodecTable, BlockStructsMatchTheTypeTable) {
  EXPECT_EQ(ggml_traits(GgmlType::Q4_0).type_size, sizeof(BlockQ4_0));
  EXPECT_EQ(ggml_traits(GgmlType::Q4_1).type_size, sizeof(BlockQ4_1));
  EXPECT_EQ(ggml_traits(GgmlType::Q5_0).type_size, sizeof(BlockQ5_0));
  EXPECT_EQ(ggml_traits(GgmlType::Q5_1).type_size, sizeof(BlockQ5_1));
  EXPECT_EQ(ggml_traits(GgmlType::Q8_0).type_size, sizeof(BlockQ8_0));
  EXPECT_EQ(ggml_traits(GgmlType::Q8_1).type_size, sizeof(BlockQ8_1));
  EXPECT_EQ(ggml_traits(GgmlType::Q2_K).type_size, sizeof(BlockQ2K));
  EXPECT_EQ(ggml_traits(GgmlType::Q3_K).type_size, sizeof(BlockQ3K));
  EXPECT_EQ(ggml_traits(GgmlType::Q4_K).type_size, sizeof(BlockQ4K));
  EXPECT_EQ(ggml_traits(GgmlType::Q5_K).type_size, sizeof(BlockQ5K));
  EXPECT_EQ(ggml_traits(GgmlType::Q6_K).type_size, sizeof(BlockQ6K));
  EXPECT_EQ(ggml_traits(GgmlType::Q8_K).type_size, sizeof(BlockQ8K));
  EXPECT_EQ(ggml_traits(GgmlType::IQ4_NL).type_size, sizeof(BlockIq4Nl));
  EXPECT_EQ(ggml_traits(GgmlType::IQ4_XS).type_size, sizeof(BlockIq4Xs));
  EXPECT_EQ(ggml_traits(GgmlType::TQ1_0).type_size, sizeof(BlockTq1_0));
  EXPECT_EQ(ggml_traits(GgmlType::TQ2_0).type_size, sizeof(BlockTq2_0));
}

TEST(CodecTable, LookupAndCoverage) {
  int n = 0;
  const QuantCodec* all = all_codecs(&n);
  ASSERT_GT(n, 0);
  for (int i = 0; i < n; ++i) {
    SCOPED_TRACE(ggml_type_name(all[i].type));
    EXPECT_TRUE(ggml_traits(all[i].type).valid);
    EXPECT_EQ(codec_for(all[i].type), &all[i]);
    EXPECT_NE(all[i].quantize_row, nullptr);
    EXPECT_NE(all[i].dequantize_row, nullptr);
  }
  for (GgmlType t : {GgmlType::F32, GgmlType::F16, GgmlType::BF16, GgmlType::Q4_0, GgmlType::Q4_1,
                     GgmlType::Q5_0, GgmlType::Q5_1, GgmlType::Q8_0, GgmlType::Q8_1, GgmlType::Q2_K,
                     GgmlType::Q3_K, GgmlType::Q4_K, GgmlType::Q5_K, GgmlType::Q6_K, GgmlType::Q8_K,
                     GgmlType::IQ4_NL, GgmlType::IQ4_XS, GgmlType::TQ1_0, GgmlType::TQ2_0})
    EXPECT_NE(codec_for(t), nullptr) << ggml_type_name(t);
  EXPECT_EQ(codec_for(GgmlType::IQ2_XXS), nullptr);
  EXPECT_EQ(codec_for(GgmlType::I32), nullptr);
  EXPECT_EQ(codec_for(static_cast<GgmlType>(4)), nullptr);      // a removed ggml id
  EXPECT_EQ(codec_for(static_cast<GgmlType>(1000)), nullptr);
}

// ---------------------------------------------------------------------------------------
// Whole-tensor helpers

TEST(CodecTensor, RejectsRowLengthsNotMultipleOfTheBlock) {
  std::vector<float> x(4096, 1.0f);
  std::vector<uint8_t> q(8192);
  const struct {
    GgmlType type;
    int64_t row_len;
  } bad[] = {{GgmlType::Q4_0, 33}, {GgmlType::Q8_0, 16}, {GgmlType::Q4_K, 128}, {GgmlType::Q6_K, 288},
             {GgmlType::IQ4_XS, 32}, {GgmlType::IQ4_NL, 48}, {GgmlType::TQ1_0, 100}, {GgmlType::Q8_K, 255}};
  for (const auto& b : bad) {
    SCOPED_TRACE(ggml_type_name(b.type));
    EXPECT_THROW(quantize_tensor(b.type, x.data(), q.data(), 2, b.row_len, nullptr), Error);
    EXPECT_THROW(dequantize_tensor(b.type, q.data(), x.data(), 2, b.row_len), Error);
  }
  try {
    quantize_tensor(GgmlType::Q4_K, x.data(), q.data(), 1, 300, nullptr);
    FAIL() << "no throw";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("300"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("256"), std::string::npos) << e.what();
  }
  // Types without a codec, and nonsense shapes.
  EXPECT_THROW(quantize_tensor(GgmlType::IQ2_XXS, x.data(), q.data(), 1, 256, nullptr), Error);
  EXPECT_THROW(dequantize_tensor(GgmlType::IQ3_S, q.data(), x.data(), 1, 256), Error);
  EXPECT_THROW(quantize_tensor(GgmlType::Q8_0, x.data(), q.data(), -1, 32, nullptr), Error);
  // A multiple of the block is fine, and zero rows are a no-op.
  EXPECT_NO_THROW(quantize_tensor(GgmlType::Q4_K, x.data(), q.data(), 2, 512, nullptr));
  EXPECT_NO_THROW(quantize_tensor(GgmlType::Q4_K, x.data(), q.data(), 0, 512, nullptr));
  EXPECT_NO_THROW(quantize_tensor(GgmlType::F16, x.data(), q.data(), 3, 7, nullptr));
}

// The threaded tensor helpers equal the row functions applied row by row, with the importance
// (one weight per column) shared by every row.
TEST(CodecTensor, TensorHelpersEqualRowByRow) {
  constexpr int64_t kRows = 37, kCols = 512;
  std::mt19937 rng(3);
  std::vector<float> x;
  for (int r = 0; r < kRows; ++r) {
    const auto row = testing::make_row(testing::RowKind::HeavyTailed, kCols, rng);
    x.insert(x.end(), row.begin(), row.end());
  }
  std::vector<float> imp(kCols);
  std::uniform_real_distribution<float> u(0.1f, 10.f);
  for (auto& w : imp) w = u(rng);
  int n = 0;
  const QuantCodec* all = all_codecs(&n);
  for (int i = 0; i < n; ++i) {
    const GgmlType t = all[i].type;
    SCOPED_TRACE(ggml_type_name(t));
    const uint64_t rb = testing::row_bytes(t, kCols);
    for (const float* importance : {static_cast<const float*>(nullptr), static_cast<const float*>(imp.data())}) {
      std::vector<uint8_t> whole(rb * kRows), rows(rb * kRows);
      quantize_tensor(t, x.data(), whole.data(), kRows, kCols, importance);
      for (int64_t r = 0; r < kRows; ++r) all[i].quantize_row(x.data() + r * kCols, rows.data() + r * rb, kCols, importance);
      ASSERT_EQ(whole, rows);
      std::vector<float> y1(x.size()), y2(x.size());
      dequantize_tensor(t, whole.data(), y1.data(), kRows, kCols);
      for (int64_t r = 0; r < kRows; ++r) all[i].dequantize_row(whole.data() + r * rb, y2.data() + r * kCols, kCols);
      ASSERT_EQ(0, std::memcmp(y1.data(), y2.data(), y1.size() * sizeof(float)));
    }
  }
}

// ---------------------------------------------------------------------------------------
// Every code decodes: blocks built by hand from blocks.h's layout notes.

// The IQ4_NL grid, as published with llama.cpp (kept here independently of blocks.h).
constexpr int kGrid[16] = {-127, -104, -83, -65, -49, -35, -22, -10, 1, 13, 25, 38, 53, 69, 89, 113};

template <typename Block>
std::vector<float> decode(GgmlType t, const std::vector<Block>& blocks) {
  const int64_t n = static_cast<int64_t>(blocks.size()) * ggml_traits(t).block_size;
  std::vector<float> y(n);
  codec_for(t)->dequantize_row(blocks.data(), y.data(), n);
  return y;
}

void expect_values(const std::vector<float>& got, const std::vector<float>& want) {
  ASSERT_EQ(got.size(), want.size());
  for (size_t i = 0; i < got.size(); ++i) ASSERT_EQ(got[i], want[i]) << "element " << i;
}

TEST(CodecDecode, Q4_0AllCodes) {
  BlockQ4_0 b{};
  b.d = f32_to_f16(0.5f);
  std::vector<float> want(32);
  for (int j = 0; j < 16; ++j) {
    b.qs[j] = static_cast<uint8_t>(j | ((15 - j) << 4));
    want[j] = 0.5f * static_cast<float>(j - 8);
    want[j + 16] = 0.5f * static_cast<float>(15 - j - 8);
  }
  expect_values(decode(GgmlType::Q4_0, std::vector<BlockQ4_0>{b}), want);
}

TEST(CodecDecode, Q4_1AllCodes) {
  BlockQ4_1 b{};
  b.d = f32_to_f16(0.25f);
  b.m = f32_to_f16(-1.5f);
  std::vector<float> want(32);
  for (int j = 0; j < 16; ++j) {
    b.qs[j] = static_cast<uint8_t>((15 - j) | (j << 4));
    want[j] = 0.25f * static_cast<float>(15 - j) - 1.5f;
    want[j + 16] = 0.25f * static_cast<float>(j) - 1.5f;
  }
  expect_values(decode(GgmlType::Q4_1, std::vector<BlockQ4_1>{b}), want);
}

// Element e carries code e: low nibbles j and j+16 share byte j, bit 4 of code e is bit e of qh.
TEST(CodecDecode, Q5_0AndQ5_1AllCodes) {
  BlockQ5_0 b0{};
  BlockQ5_1 b1{};
  b0.d = b1.d = f32_to_f16(0.125f);
  b1.m = f32_to_f16(2.0f);
  const uint32_t qh = 0xFFFF0000u;
  std::memcpy(b0.qh, &qh, 4);
  std::memcpy(b1.qh, &qh, 4);
  std::vector<float> want0(32), want1(32);
  for (int j = 0; j < 16; ++j) b0.qs[j] = b1.qs[j] = static_cast<uint8_t>(j | (j << 4));
  for (int e = 0; e < 32; ++e) {
    want0[e] = 0.125f * static_cast<float>(e - 16);
    want1[e] = 0.125f * static_cast<float>(e) + 2.0f;
  }
  expect_values(decode(GgmlType::Q5_0, std::vector<BlockQ5_0>{b0}), want0);
  expect_values(decode(GgmlType::Q5_1, std::vector<BlockQ5_1>{b1}), want1);
}

TEST(CodecDecode, Q8_0AndQ8_1AllCodes) {
  std::vector<BlockQ8_0> b0(8);
  std::vector<BlockQ8_1> b1(8);
  std::vector<float> want(256);
  for (int b = 0; b < 8; ++b) {
    b0[b].d = b1[b].d = f32_to_f16(0.5f);
    for (int j = 0; j < 32; ++j) {
      const int code = b * 32 + j - 128;
      b0[b].qs[j] = b1[b].qs[j] = static_cast<int8_t>(code);
      want[32 * b + j] = 0.5f * static_cast<float>(code);
    }
  }
  expect_values(decode(GgmlType::Q8_0, b0), want);
  expect_values(decode(GgmlType::Q8_1, b1), want);
}

TEST(CodecDecode, Q8_KAllCodes) {
  BlockQ8K b{};
  b.d = 0.375f;
  std::vector<float> want(256);
  for (int j = 0; j < 256; ++j) {
    b.qs[j] = static_cast<int8_t>(j - 128);
    want[j] = 0.375f * static_cast<float>(j - 128);
  }
  expect_values(decode(GgmlType::Q8_K, std::vector<BlockQ8K>{b}), want);
}

TEST(CodecDecode, Iq4NlAllCodes) {
  BlockIq4Nl b{};
  b.d = f32_to_f16(0.5f);
  std::vector<float> want(32);
  for (int j = 0; j < 16; ++j) {
    b.qs[j] = static_cast<uint8_t>(j | ((15 - j) << 4));
    want[j] = 0.5f * static_cast<float>(kGrid[j]);
    want[j + 16] = 0.5f * static_cast<float>(kGrid[15 - j]);
  }
  expect_values(decode(GgmlType::IQ4_NL, std::vector<BlockIq4Nl>{b}), want);
  for (int i = 0; i < 16; ++i) EXPECT_EQ(kIq4nlValues[i], kGrid[i]);
}

TEST(CodecDecode, Iq4XsAllCodesAndScales) {
  const int ls[8] = {0, 63, 32, 31, 33, 1, 62, 17};  // 6-bit sub-block scales, used as ls - 32
  BlockIq4Xs b{};
  b.d = f32_to_f16(0.25f);
  std::vector<float> want(256);
  for (int s = 0; s < 8; ++s) {
    b.scales_l[s / 2] |= static_cast<uint8_t>((ls[s] & 15) << (4 * (s % 2)));
    b.scales_h |= static_cast<uint16_t>((ls[s] >> 4) << (2 * s));
    for (int j = 0; j < 16; ++j) {
      const int lo = (j + s) % 16, hi = (15 - j + s) % 16;
      b.qs[16 * s + j] = static_cast<uint8_t>(lo | (hi << 4));
      const float dl = 0.25f * static_cast<float>(ls[s] - 32);
      want[32 * s + j] = dl * static_cast<float>(kGrid[lo]);
      want[32 * s + j + 16] = dl * static_cast<float>(kGrid[hi]);
    }
  }
  expect_values(decode(GgmlType::IQ4_XS, std::vector<BlockIq4Xs>{b}), want);
}

// Q2_K / Q3_K low bits: in half h, byte l holds elements 128h + l + 32k at bits 2k.
void put_2bit(uint8_t* qs, int e, int q) {
  const int h = e / 128, r = e % 128;
  qs[32 * h + r % 32] |= static_cast<uint8_t>((q & 3) << (2 * (r / 32)));
}

TEST(CodecDecode, Q2_KAllCodes) {
  BlockQ2K b{};
  b.d = f32_to_f16(0.5f);
  b.dmin = f32_to_f16(0.25f);
  for (int s = 0; s < 16; ++s) b.scales[s] = static_cast<uint8_t>(s | ((15 - s) << 4));
  std::vector<float> want(256);
  for (int e = 0; e < 256; ++e) {
    const int q = (e + e / 16) % 4, s = e / 16;
    put_2bit(b.qs, e, q);
    want[e] = 0.5f * static_cast<float>(s) * static_cast<float>(q) - 0.25f * static_cast<float>(15 - s);
  }
  expect_values(decode(GgmlType::Q2_K, std::vector<BlockQ2K>{b}), want);
}

TEST(CodecDecode, Q3_KAllCodesAndScales) {
  const int sc[16] = {0, 63, 32, 31, 1, 62, 16, 48, 5, 40, 33, 30, 2, 61, 20, 44};
  BlockQ3K b{};
  b.d = f32_to_f16(0.25f);
  for (int s = 0; s < 16; ++s) {
    b.scales[s % 8] |= static_cast<uint8_t>((sc[s] & 15) << (s < 8 ? 0 : 4));
    b.scales[8 + s % 4] |= static_cast<uint8_t>((sc[s] >> 4) << (2 * (s / 4)));
  }
  std::vector<float> want(256);
  for (int e = 0; e < 256; ++e) {
    const int q = (3 * e + e / 16) % 8, s = e / 16;
    put_2bit(b.qs, e, q);
    if (q & 4) b.hmask[e % 32] |= static_cast<uint8_t>(1 << (e / 32));
    want[e] = 0.25f * static_cast<float>(sc[s] - 32) * static_cast<float>(q - 4);
  }
  expect_values(decode(GgmlType::Q3_K, std::vector<BlockQ3K>{b}), want);
}

TEST(CodecDecode, K4ScaleMinPackingRoundTrips) {
  std::mt19937 rng(11);
  std::uniform_int_distribution<int> u(0, 63);
  for (int rep = 0; rep < 2000; ++rep) {
    uint8_t ls[8], lm[8], packed[12] = {};
    for (int j = 0; j < 8; ++j) {
      ls[j] = static_cast<uint8_t>(rep < 64 ? rep : u(rng));
      lm[j] = static_cast<uint8_t>(rep < 64 ? 63 - rep : u(rng));
    }
    set_scale_min_k4(ls, lm, packed);
    for (int j = 0; j < 8; ++j) {
      uint8_t sc, m;
      get_scale_min_k4(j, packed, &sc, &m);
      ASSERT_EQ(sc, ls[j]);
      ASSERT_EQ(m, lm[j]);
    }
  }
}

const uint8_t kK4Scales[8] = {0, 63, 1, 62, 32, 17, 45, 5};
const uint8_t kK4Mins[8] = {63, 0, 2, 61, 31, 44, 9, 3};

TEST(CodecDecode, Q4_KAllCodes) {
  BlockQ4K b{};
  b.d = f32_to_f16(0.5f);
  b.dmin = f32_to_f16(0.125f);
  set_scale_min_k4(kK4Scales, kK4Mins, b.scales);
  std::vector<float> want(256);
  for (int e = 0; e < 256; ++e) {
    const int q = (7 * e + e / 32) % 16, s = e / 32;
    const int c = e / 64, r = e % 64;
    b.qs[32 * c + r % 32] |= static_cast<uint8_t>(q << (4 * (r / 32)));
    want[e] = 0.5f * static_cast<float>(kK4Scales[s]) * static_cast<float>(q) - 0.125f * static_cast<float>(kK4Mins[s]);
  }
  expect_values(decode(GgmlType::Q4_K, std::vector<BlockQ4K>{b}), want);
}

TEST(CodecDecode, Q5_KAllCodes) {
  BlockQ5K b{};
  b.d = f32_to_f16(0.25f);
  b.dmin = f32_to_f16(0.5f);
  set_scale_min_k4(kK4Scales, kK4Mins, b.scales);
  std::vector<float> want(256);
  for (int e = 0; e < 256; ++e) {
    const int q = (11 * e + e / 32) % 32, s = e / 32;
    const int c = e / 64, r = e % 64;
    b.qs[32 * c + r % 32] |= static_cast<uint8_t>((q & 15) << (4 * (r / 32)));
    if (q & 16) b.qh[e % 32] |= static_cast<uint8_t>(1 << (e / 32));
    want[e] = 0.25f * static_cast<float>(kK4Scales[s]) * static_cast<float>(q) - 0.5f * static_cast<float>(kK4Mins[s]);
  }
  expect_values(decode(GgmlType::Q5_K, std::vector<BlockQ5K>{b}), want);
}

TEST(CodecDecode, Q6_KAllCodesAndScales) {
  const int8_t sc[16] = {-128, 127, 0, 1, -1, 64, -64, 3, 17, -17, 100, -100, 5, -5, 33, -33};
  BlockQ6K b{};
  b.d = f32_to_f16(0.25f);
  std::memcpy(b.scales, sc, 16);
  std::vector<float> want(256);
  for (int e = 0; e < 256; ++e) {
    const int q = (13 * e + e / 16) % 64, s = e / 16;
    const int h = e / 128, k = (e % 128) / 32, l = e % 32;
    // Low nibble: elements k = 0, 1 in the low nibbles of bytes l and 32 + l, k = 2, 3 high.
    b.ql[64 * h + 32 * (k % 2) + l] |= static_cast<uint8_t>((q & 15) << (4 * (k / 2)));
    b.qh[32 * h + l] |= static_cast<uint8_t>((q >> 4) << (2 * k));
    want[e] = 0.25f * static_cast<float>(sc[s]) * static_cast<float>(q - 32);
  }
  expect_values(decode(GgmlType::Q6_K, std::vector<BlockQ6K>{b}), want);
}

TEST(CodecDecode, Tq2_0AllCodes) {
  BlockTq2_0 b{};
  b.d = f32_to_f16(1.5f);
  std::vector<float> want(256);
  for (int e = 0; e < 256; ++e) {
    const int t = e % 3, c = e / 128, n = (e % 128) / 32, m = e % 32;
    b.qs[32 * c + m] |= static_cast<uint8_t>(t << (2 * n));
    want[e] = static_cast<float>(t - 1) * 1.5f;
  }
  expect_values(decode(GgmlType::TQ2_0, std::vector<BlockTq2_0>{b}), want);
}

// Every 5-trit value v (0..242) in every byte position: block v stores v in each of the 48 qs
// bytes (as ceil(v * 256 / 243)) and (v mod 81) * 3 in the 4 qh bytes (four trits and a 0).
TEST(CodecDecode, Tq1_0AllTritPatterns) {
  std::vector<BlockTq1_0> blocks(243);
  std::vector<float> want(243 * 256);
  for (int v = 0; v < 243; ++v) {
    BlockTq1_0& b = blocks[v];
    b.d = f32_to_f16(2.0f);
    const int vh = (v % 81) * 3;
    for (auto& q : b.qs) q = static_cast<uint8_t>((v * 256 + 242) / 243);
    for (auto& q : b.qh) q = static_cast<uint8_t>((vh * 256 + 242) / 243);
    int digits[5], digits_h[5];
    for (int k = 4, a = v, c = vh; k >= 0; --k, a /= 3, c /= 3) {
      digits[k] = a % 3;  // digits[0] is the most significant
      digits_h[k] = c % 3;
    }
    for (int e = 0; e < 256; ++e) {
      int trit;
      if (e < 160) {
        trit = digits[e / 32];
      } else if (e < 240) {
        trit = digits[(e - 160) / 16];
      } else {
        trit = digits_h[(e - 240) / 4];
      }
      want[256 * v + e] = static_cast<float>(trit - 1) * 2.0f;
    }
  }
  expect_values(decode(GgmlType::TQ1_0, blocks), want);
}

// The ternary encoders write exactly those patterns back.
TEST(CodecDecode, TernaryEncodersInvertTheDecoders) {
  std::mt19937 rng(17);
  std::uniform_int_distribution<int> t3(-1, 1);
  for (GgmlType t : {GgmlType::TQ1_0, GgmlType::TQ2_0}) {
    std::vector<float> x(1024);
    for (auto& v : x) v = static_cast<float>(t3(rng)) * 0.75f;
    x[5] = 0.75f;  // every block's amax is 0.75, exactly an f16
    x[300] = x[600] = x[900] = -0.75f;
    EXPECT_EQ(testing::round_trip(t, x), x) << ggml_type_name(t);
  }
}

}  // namespace
}  // namespace lowbit
