// The fixed-scale grids of the GGUF block types: they decode exactly what the codecs decode,
// re-encoding a block's own values gives back its bytes, and encoding picks the nearest grid
// value (checked by brute force over every code).
#include "quant/methods/grid.h"

#include <cmath>
#include <cstring>
#include <limits>
#include <random>
#include <vector>

#include <gtest/gtest.h>

#include "core/error.h"
#include "core/half.h"
#include "quant/codecs/codec.h"
#include "quant/codecs/codec_testing.h"

namespace lowbit {
namespace {

using testing::RowKind;

constexpr GgmlType kGridTypes[] = {GgmlType::Q8_0, GgmlType::Q5_0, GgmlType::Q5_1, GgmlType::Q4_0,
                                   GgmlType::Q4_1, GgmlType::IQ4_NL, GgmlType::Q6_K, GgmlType::Q5_K,
                                   GgmlType::Q4_K, GgmlType::Q3_K, GgmlType::Q2_K, GgmlType::IQ4_XS};
constexpr int64_t kN = 1024;  // four super-blocks, 32 small blocks

int64_t block_size(GgmlType t) { return ggml_traits(t).block_size; }
int64_t type_size(GgmlType t) { return ggml_traits(t).type_size; }

bool same_bits(float a, float b) { return f32_bits(a) == f32_bits(b); }

// Positive importance of an imatrix's spread, so the weighted quantizers run too.
std::vector<float> some_importance(int64_t n, std::mt19937& rng) {
  std::normal_distribution<float> normal(0.f, 1.f);
  std::vector<float> w(n);
  for (auto& v : w) v = std::exp(normal(rng));
  return w;
}

class Grid : public ::testing::TestWithParam<GgmlType> {};

// value(level) of every element equals dequantize_row bit for bit (signed zeros included),
// and the grid is constant over aligned runs of kGridRun elements.
TEST_P(Grid, ValuesAreTheCodecsDequantization) {
  const GgmlType t = GetParam();
  std::mt19937 rng(7);
  const int64_t bs = block_size(t);
  std::vector<ElementGrid> g(bs);
  std::vector<int> q(bs);
  for (RowKind kind : testing::kAllRowKinds)
    for (bool weighted : {false, true}) {
      const std::vector<float> x = testing::make_row(kind, kN, rng);
      const std::vector<float> imp = some_importance(kN, rng);
      const std::vector<uint8_t> blocks = testing::quantize(t, x, weighted ? imp.data() : nullptr);
      const std::vector<float> y = testing::dequantize(t, blocks, kN);
      for (int64_t b = 0; b < kN / bs; ++b) {
        const uint8_t* blk = blocks.data() + b * type_size(t);
        block_element_grids(t, blk, g.data());
        block_levels(t, blk, q.data());
        for (int64_t i = 0; i < bs; ++i) {
          ASSERT_GE(q[i], g[i].qmin);
          ASSERT_LE(q[i], g[i].qmax);
          ASSERT_TRUE(same_bits(g[i].value(q[i]), y[b * bs + i]))
              << testing::row_kind_name(kind) << " block " << b << " element " << i << ": grid " << g[i].value(q[i])
              << " vs dequantize " << y[b * bs + i];
          const ElementGrid& first = g[i / kGridRun * kGridRun];
          ASSERT_TRUE(same_bits(g[i].scale, first.scale) && same_bits(g[i].offset, first.offset)) << "element " << i;
        }
      }
    }
}

// Re-encoding a block's decoded values with its own scales gives back the block's bytes.
TEST_P(Grid, ReencodingTheDecodedValuesReproducesTheBytes) {
  const GgmlType t = GetParam();
  std::mt19937 rng(11);
  const int64_t bs = block_size(t);
  for (RowKind kind : testing::kAllRowKinds)
    for (bool weighted : {false, true}) {
      const std::vector<float> x = testing::make_row(kind, kN, rng);
      const std::vector<float> imp = some_importance(kN, rng);
      const std::vector<uint8_t> blocks = testing::quantize(t, x, weighted ? imp.data() : nullptr);
      const std::vector<float> y = testing::dequantize(t, blocks, kN);
      std::vector<uint8_t> out(blocks.size(), 0xAB);
      for (int64_t b = 0; b < kN / bs; ++b)
        encode_block_fixed_scales(t, blocks.data() + b * type_size(t), y.data() + b * bs, out.data() + b * type_size(t));
      ASSERT_EQ(0, std::memcmp(out.data(), blocks.data(), blocks.size()))
          << testing::type_name(t) << ", " << testing::row_kind_name(kind) << (weighted ? ", weighted" : "");
      // In place (out aliasing the template) too.
      std::vector<uint8_t> inplace = blocks;
      for (int64_t b = 0; b < kN / bs; ++b)
        encode_block_fixed_scales(t, inplace.data() + b * type_size(t), y.data() + b * bs, inplace.data() + b * type_size(t));
      ASSERT_EQ(inplace, blocks);
    }
}

// For arbitrary x the codes are the nearest grid values (brute force over every level), the
// scale fields are untouched, and the bytes decode to exactly those grid values.
TEST_P(Grid, EncodingPicksTheNearestGridValue) {
  const GgmlType t = GetParam();
  std::mt19937 rng(13);
  std::normal_distribution<float> normal(0.f, 1.f);
  const int64_t bs = block_size(t);
  std::vector<ElementGrid> g(bs), g_out(bs);
  std::vector<int> q(bs);
  for (RowKind kind : {RowKind::Normal, RowKind::HeavyTailed, RowKind::Outlier, RowKind::Constant, RowKind::Tiny})
    for (int trial = 0; trial < 3; ++trial) {
      const std::vector<float> a = testing::make_row(kind, kN, rng);
      const std::vector<uint8_t> tmpl = testing::quantize(t, a, trial == 1 ? some_importance(kN, rng).data() : nullptr);
      // x: the template's own values moved by up to a few grid steps, and some far outside.
      const std::vector<float> ya = testing::dequantize(t, tmpl, kN);
      float amax = 0;
      for (float v : ya) amax = std::max(amax, std::fabs(v));
      std::vector<float> x(kN);
      for (int64_t i = 0; i < kN; ++i)
        x[i] = trial == 2 ? a[i] * 1.3f + 0.1f * amax * normal(rng) : ya[i] + 0.05f * amax * normal(rng);
      std::vector<uint8_t> out(tmpl.size());
      for (int64_t b = 0; b < kN / bs; ++b)
        encode_block_fixed_scales(t, tmpl.data() + b * type_size(t), x.data() + b * bs, out.data() + b * type_size(t));
      const std::vector<float> y = testing::dequantize(t, out, kN);
      for (int64_t b = 0; b < kN / bs; ++b) {
        block_element_grids(t, tmpl.data() + b * type_size(t), g.data());
        block_element_grids(t, out.data() + b * type_size(t), g_out.data());
        block_levels(t, out.data() + b * type_size(t), q.data());
        for (int64_t i = 0; i < bs; ++i) {
          ASSERT_TRUE(same_bits(g[i].scale, g_out[i].scale) && same_bits(g[i].offset, g_out[i].offset));
          const float xi = x[b * bs + i];
          float best = std::numeric_limits<float>::infinity();
          for (int l = g[i].qmin; l <= g[i].qmax; ++l) best = std::min(best, std::fabs(xi - g[i].value(l)));
          ASSERT_EQ(std::fabs(xi - g[i].value(q[i])), best)
              << testing::type_name(t) << " " << testing::row_kind_name(kind) << " block " << b << " element " << i
              << ": x = " << xi << " got level " << q[i];
          ASSERT_TRUE(same_bits(y[b * bs + i], g[i].value(q[i])));
        }
      }
    }
}

INSTANTIATE_TEST_SUITE_P(AllTypes, Grid, ::testing::ValuesIn(kGridTypes),
                         [](const auto& info) { return testing::type_name(info.param); });

TEST(GridApi, UnsupportedTypesThrow) {
  uint8_t block[292] = {};
  ElementGrid g[256];
  float x[256] = {};
  for (GgmlType t : {GgmlType::F32, GgmlType::Q8_1, GgmlType::Q8_K, GgmlType::TQ1_0, GgmlType::TQ2_0, GgmlType::IQ2_XS}) {
    EXPECT_FALSE(grid_supported(t));
    EXPECT_THROW(block_element_grids(t, block, g), Error);
    EXPECT_THROW(encode_block_fixed_scales(t, block, x, block), Error);
  }
  for (GgmlType t : kGridTypes) EXPECT_TRUE(grid_supported(t));
}

TEST(GridApi, SetLevelsRejectsOutOfRangeLevels) {
  uint8_t block[34] = {};
  int q[32] = {};
  q[5] = -128;  // Q8_0's grid stops at -127 (grid.h)
  EXPECT_THROW(set_block_levels(GgmlType::Q8_0, block, q, block), Error);
  q[5] = 8;  // Q4_0 levels are -8..7
  EXPECT_THROW(set_block_levels(GgmlType::Q4_0, block, q, block), Error);
}

TEST(GridApi, NearestLevelIsTotal) {
  const float nan = std::numeric_limits<float>::quiet_NaN(), inf = std::numeric_limits<float>::infinity();
  for (GgmlType t : kGridTypes) {
    ElementGrid g = type_grid(t);
    for (float scale : {0.0f, 0.5f, -0.5f, inf, nan})
      for (float x : {0.0f, 1.0f, -1e30f, 1e30f, nan, inf, -inf}) {
        g.scale = scale;
        const int q = nearest_level(g, x, kNoPreference);
        ASSERT_GE(q, g.qmin);
        ASSERT_LE(q, g.qmax);
      }
    // A zero scale makes every level equally near: the preference wins.
    g.scale = 0.0f;
    EXPECT_EQ(nearest_level(g, 3.0f, g.qmax), g.qmax);
    EXPECT_EQ(nearest_level(g, 3.0f, g.qmin + 1), g.qmin + 1);
  }
}

}  // namespace
}  // namespace lowbit
