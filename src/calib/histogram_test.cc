#include "calib/histogram.h"

#include <cmath>
#include <limits>
#include <random>
#include <vector>

#include <gtest/gtest.h>

#include "core/error.h"

namespace lowbit {
namespace {

std::vector<float> gaussian(size_t n, double sigma, uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> d(0.f, static_cast<float>(sigma));
  std::vector<float> v(n);
  for (auto& x : v) x = d(rng);
  return v;
}

void expect_same(const AbsHistogram& a, const AbsHistogram& b) {
  EXPECT_EQ(a.range(), b.range());
  EXPECT_EQ(a.total(), b.total());
  EXPECT_EQ(a.max_seen(), b.max_seen());
  EXPECT_EQ(a.counts(), b.counts());
}

TEST(AbsHistogram, EmptyAndZeros) {
  AbsHistogram h(16);
  EXPECT_EQ(h.bins(), 16);
  EXPECT_EQ(h.range(), 0);
  EXPECT_EQ(h.total(), 0u);
  const float zeros[3] = {0.f, -0.f, 0.f};
  h.add(zeros, 3);
  EXPECT_EQ(h.range(), 0);   // only zeros: no range yet
  EXPECT_EQ(h.counts()[0], 3u);
  EXPECT_EQ(h.total(), 3u);
  const float one = 1.0f;
  h.add(&one, 1);   // range becomes 2 (strictly above 1); the zeros stay in bin 0
  EXPECT_EQ(h.range(), 2.0);
  EXPECT_EQ(h.counts()[0], 3u);
  EXPECT_EQ(h.counts()[8], 1u);   // 1.0 / (2/16) = bin 8
  EXPECT_EQ(h.total(), 4u);
  EXPECT_EQ(h.max_seen(), 1.0);
}

TEST(AbsHistogram, InitialRangeIsThePowerOfTwoAbove) {
  const std::pair<float, double> cases[] = {{3.f, 4.0}, {4.f, 8.0}, {0.75f, 1.0}, {-5.f, 8.0}, {1e-30f, std::ldexp(1.0, -99)}};
  for (auto [v, range] : cases) {
    AbsHistogram h(8);
    h.add(&v, 1);
    EXPECT_EQ(h.range(), range) << v;
    EXPECT_GT(h.range(), std::fabs(v));
    EXPECT_LE(h.range(), 2 * std::fabs(v));
  }
}

TEST(AbsHistogram, GrowingMergesBinPairs) {
  AbsHistogram h(8);
  const float a[] = {0.1f, 0.3f, 0.6f, 0.9f, 0.95f};   // range 1, width 1/8: bins 0, 2, 4, 7, 7
  h.add(a, 5);
  ASSERT_EQ(h.range(), 1.0);
  EXPECT_EQ(h.counts(), (std::vector<uint64_t>{1, 0, 1, 0, 1, 0, 0, 2}));
  const float b = 3.5f;   // range 1 -> 4: two doublings
  h.add(&b, 1);
  ASSERT_EQ(h.range(), 4.0);
  // old bin i -> i >> 2: 0,2 -> 0; 4,7,7 -> 1; 3.5 / 0.5 = bin 7
  EXPECT_EQ(h.counts(), (std::vector<uint64_t>{2, 3, 0, 0, 0, 0, 0, 1}));
  EXPECT_EQ(h.total(), 6u);
  EXPECT_FLOAT_EQ(h.max_seen(), 3.5);
}

TEST(AbsHistogram, EnormousGrowthCollapsesIntoBinZero) {
  AbsHistogram h(2048);
  const float tiny[] = {1e-30f, 2e-30f, 0.f};
  h.add(tiny, 3);
  const float huge = 1e30f;
  h.add(&huge, 1);
  EXPECT_EQ(h.counts()[0], 3u);
  uint64_t sum = 0;
  for (auto c : h.counts()) sum += c;
  EXPECT_EQ(sum, 4u);
  EXPECT_GT(h.range(), 1e30);
  const float fmax = std::numeric_limits<float>::max();
  h.add(&fmax, 1);   // range 2^128: still finite in double
  EXPECT_EQ(h.range(), std::ldexp(1.0, 128));
  EXPECT_EQ(h.counts().back(), 1u);
}

// Streaming in batches gives exactly the histogram of one pass over everything: with a
// power-of-two range, x * bins / range is exact and doubling is an exact shift.
TEST(AbsHistogram, StreamingEqualsOnePass) {
  for (int bins : {2048, 8, 7}) {
    std::vector<float> all;
    AbsHistogram streamed(bins);
    for (int b = 0; b < 20; ++b) {
      auto batch = gaussian(500, std::pow(1.6, b), 100 + b);   // growing spread: many doublings
      streamed.add(batch.data(), batch.size());
      all.insert(all.end(), batch.begin(), batch.end());
    }
    AbsHistogram once(bins);
    once.add(all.data(), all.size());
    if (bins == 7) {   // not a power of two: binning may differ at bin edges, totals agree
      EXPECT_EQ(streamed.range(), once.range());
      EXPECT_EQ(streamed.total(), once.total());
      continue;
    }
    expect_same(streamed, once);
  }
}

TEST(AbsHistogram, MergeEqualsOnePass) {
  auto a = gaussian(3000, 0.01, 1);
  auto b = gaussian(3000, 5.0, 2);
  AbsHistogram ha, hb, hall;
  ha.add(a.data(), a.size());
  hb.add(b.data(), b.size());
  std::vector<float> all = a;
  all.insert(all.end(), b.begin(), b.end());
  hall.add(all.data(), all.size());

  AbsHistogram m1 = ha;   // small range grows to the big one
  m1.merge(hb);
  expect_same(m1, hall);
  AbsHistogram m2 = hb;   // big absorbs small
  m2.merge(ha);
  expect_same(m2, hall);

  AbsHistogram empty;
  AbsHistogram m3 = empty;   // merging into an empty histogram copies
  m3.merge(ha);
  expect_same(m3, ha);
  AbsHistogram m4 = ha;
  m4.merge(empty);
  expect_same(m4, ha);

  AbsHistogram zeros;   // zeros only (range 0) merge into bin 0
  const float z[2] = {0.f, 0.f};
  zeros.add(z, 2);
  AbsHistogram m5 = ha;
  m5.merge(zeros);
  EXPECT_EQ(m5.counts()[0], ha.counts()[0] + 2);
  EXPECT_EQ(m5.total(), ha.total() + 2);
  AbsHistogram m6 = zeros;
  m6.merge(ha);
  EXPECT_EQ(m6.counts()[0], ha.counts()[0] + 2);
  EXPECT_EQ(m6.range(), ha.range());

  AbsHistogram self = ha;   // self-merge doubles every count
  self.merge(self);
  for (int i = 0; i < self.bins(); ++i) EXPECT_EQ(self.counts()[i], 2 * ha.counts()[i]);

  AbsHistogram other_bins(1024);
  EXPECT_THROW(ha.merge(other_bins), Error);
}

TEST(AbsHistogram, NonFiniteIsAnErrorAndChangesNothing) {
  AbsHistogram h(16);
  const float ok[] = {1.f, 2.f};
  h.add(ok, 2);
  const AbsHistogram before = h;
  for (float bad : {std::numeric_limits<float>::quiet_NaN(), std::numeric_limits<float>::infinity(),
                    -std::numeric_limits<float>::infinity()}) {
    const float batch[] = {100.f, bad, 3.f};
    try {
      h.add(batch, 3);
      ADD_FAILURE() << "no error for " << bad;
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find("index 1"), std::string::npos) << e.what();
    }
    expect_same(h, before);
  }
  EXPECT_THROW(AbsHistogram(0), Error);
}

}  // namespace
}  // namespace lowbit
