#include "calib/observers.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <random>
#include <vector>

#include <gtest/gtest.h>

#include "core/error.h"

namespace lowbit {
namespace {

std::vector<float> gaussian(size_t n, uint32_t seed, double sigma = 1.0) {
  std::mt19937 rng(seed);
  std::normal_distribution<double> d(0.0, sigma);
  std::vector<float> v(n);
  for (auto& x : v) x = static_cast<float>(d(rng));
  return v;
}

std::vector<float> laplace(size_t n, uint32_t seed, double b = 1.0) {
  std::mt19937 rng(seed);
  std::exponential_distribution<double> e(1.0 / b);
  std::bernoulli_distribution sign(0.5);
  std::vector<float> v(n);
  for (auto& x : v) x = static_cast<float>(sign(rng) ? e(rng) : -e(rng));
  return v;
}

std::vector<float> uniform(size_t n, uint32_t seed, double a = 1.0) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<double> d(-a, a);
  std::vector<float> v(n);
  for (auto& x : v) x = static_cast<float>(d(rng));
  return v;
}

// `frac` of the samples (every 1/frac-th) replaced by +-mag.
void add_outliers(std::vector<float>& v, double frac, float mag) {
  const size_t every = static_cast<size_t>(std::llround(1.0 / frac));
  for (size_t i = 0; i < v.size(); i += every) v[i] = (i / every) % 2 ? mag : -mag;
}

ObserverState observe_all(const std::vector<float>& v, size_t batch = 10000) {
  ObserverState s;
  for (size_t i = 0; i < v.size(); i += batch) s.observe(v.data() + i, std::min(batch, v.size() - i));
  return s;
}

// Mean squared error of quantizing every sample to the symmetric grid k * t / q, |k| <= q.
double true_mse(const std::vector<float>& v, double t, int bits) {
  const double q = (1 << (bits - 1)) - 1;
  const double s = t / q;
  double err = 0;
  for (float x : v) {
    const double k = std::clamp(std::nearbyint(x / s), -q, q);
    const double d = k * s - x;
    err += d * d;
  }
  return err / v.size();
}

double max_abs(const std::vector<float>& v) {
  double m = 0;
  for (float x : v) m = std::max(m, static_cast<double>(std::fabs(x)));
  return m;
}

float threshold(ObserverKind k, const ObserverState& s, ObserverOptions o = {}) {
  const Range r = observer_range(k, s, o);
  EXPECT_EQ(r.lo, -r.hi) << observer_name(k);
  return r.hi;
}

TEST(Observers, Names) {
  for (ObserverKind k : {ObserverKind::MinMax, ObserverKind::MovingAverageMinMax, ObserverKind::Percentile,
                         ObserverKind::Mse, ObserverKind::Entropy}) {
    ObserverKind back;
    ASSERT_TRUE(observer_from_name(observer_name(k), &back)) << observer_name(k);
    EXPECT_EQ(back, k);
  }
  ObserverKind k;
  EXPECT_FALSE(observer_from_name("kl", &k));
  EXPECT_STREQ(observer_name(ObserverKind::MovingAverageMinMax), "ema");
}

TEST(Observers, NothingSeenGivesAnEmptyRange) {
  ObserverState s;
  for (ObserverKind k : {ObserverKind::MinMax, ObserverKind::Percentile, ObserverKind::Mse, ObserverKind::Entropy}) {
    const Range r = observer_range(k, s);
    EXPECT_EQ(r.lo, 0);
    EXPECT_EQ(r.hi, 0);
  }
  const float zeros[4] = {};
  s.observe(zeros, 4);
  for (ObserverKind k : {ObserverKind::MinMax, ObserverKind::Percentile, ObserverKind::Mse, ObserverKind::Entropy}) {
    const Range r = observer_range(k, s);
    EXPECT_EQ(r.hi, 0) << observer_name(k);
  }
}

TEST(Observers, MinMaxIsAsymmetricAndTakesTheOutlier) {
  auto v = gaussian(100000, 1);
  for (auto& x : v) x += 2.0f;
  v[777] = 500.f;
  const auto s = observe_all(v);
  const Range r = observer_range(ObserverKind::MinMax, s);
  EXPECT_EQ(r.hi, 500.f);
  EXPECT_EQ(r.lo, *std::min_element(v.begin(), v.end()));
  EXPECT_EQ(s.count, v.size());
}

TEST(Observers, MovingAverageFollowsTheExactRecurrence) {
  const double c = 0.1;
  ObserverState s;
  double emin = 0, emax = 0;
  for (int b = 0; b < 30; ++b) {
    // batch b spans exactly [lo, hi]
    const float lo = -1.0f - 0.25f * (b % 7), hi = 2.0f + 0.5f * (b % 5);
    const float batch[] = {0.5f, lo, hi, 0.f};
    s.observe(batch, 4, c);
    if (b == 0) {
      emin = lo;
      emax = hi;
    } else {
      emin = emin + c * (lo - emin);
      emax = emax + c * (hi - emax);
    }
    EXPECT_DOUBLE_EQ(s.ema_min, emin) << b;
    EXPECT_DOUBLE_EQ(s.ema_max, emax) << b;
  }
  const Range r = observer_range(ObserverKind::MovingAverageMinMax, s);
  EXPECT_FLOAT_EQ(r.lo, static_cast<float>(emin));
  EXPECT_FLOAT_EQ(r.hi, static_cast<float>(emax));
  // Hand-checked: batches [-1, 2] then [-3, 6] with c = 0.25 -> min -1.5, max 3.
  ObserverState t;
  const float b1[] = {-1.f, 2.f}, b2[] = {-3.f, 6.f};
  t.observe(b1, 2, 0.25);
  t.observe(b2, 2, 0.25);
  EXPECT_DOUBLE_EQ(t.ema_min, -1.5);
  EXPECT_DOUBLE_EQ(t.ema_max, 3.0);
  EXPECT_DOUBLE_EQ(t.min, -3.0);
  EXPECT_DOUBLE_EQ(t.max, 6.0);
  EXPECT_THROW(t.observe(b1, 2, 0.0), Error);
  EXPECT_THROW(t.observe(b1, 2, 1.5), Error);
}

TEST(Observers, NonFiniteBatchIsAnError) {
  ObserverState s;
  const float ok[] = {1.f, -2.f};
  s.observe(ok, 2);
  const float bad[] = {5.f, NAN};
  EXPECT_THROW(s.observe(bad, 2), Error);
  EXPECT_EQ(s.max, 1.0);   // unchanged
  EXPECT_EQ(s.count, 2u);
}

TEST(Observers, PercentileMatchesSortedSamples) {
  auto v = laplace(200000, 3);
  const auto s = observe_all(v);
  std::vector<float> a(v.size());
  for (size_t i = 0; i < v.size(); ++i) a[i] = std::fabs(v[i]);
  std::sort(a.begin(), a.end());
  for (double p : {50.0, 90.0, 99.0, 99.9, 99.99}) {
    ObserverOptions o;
    o.percentile = p;
    const double exact = a[static_cast<size_t>(std::ceil(p / 100 * a.size())) - 1];
    EXPECT_NEAR(threshold(ObserverKind::Percentile, s, o), exact, 1.5 * s.hist.bin_width()) << p;
  }
  ObserverOptions all;
  all.percentile = 100;
  EXPECT_FLOAT_EQ(threshold(ObserverKind::Percentile, s, all), a.back());
  ObserverOptions bad;
  bad.percentile = 0;
  EXPECT_THROW(observer_range(ObserverKind::Percentile, s, bad), Error);
  bad.percentile = 101;
  EXPECT_THROW(observer_range(ObserverKind::Percentile, s, bad), Error);
}

// The MSE observer against brute force over the raw samples: the threshold it picks has a
// true MSE within 3% of the best of 200 thresholds evaluated exactly.
TEST(Observers, MseAgreesWithBruteForce) {
  struct Case {
    const char* name;
    std::vector<float> v;
    int bits;
  };
  auto outl = gaussian(50000, 9);
  add_outliers(outl, 1e-4, 30.f);
  std::vector<Case> cases = {
      {"gaussian/8", gaussian(50000, 5), 8}, {"gaussian/4", gaussian(50000, 5), 4},
      {"laplace/8", laplace(50000, 6), 8},   {"laplace/4", laplace(50000, 6), 4},
      {"uniform/8", uniform(50000, 7), 8},   {"uniform/3", uniform(50000, 7), 3},
      {"outliers/8", outl, 8},                {"outliers/4", outl, 4},
  };
  for (const auto& c : cases) {
    const auto s = observe_all(c.v);
    ObserverOptions o;
    o.bits = c.bits;
    const double t = threshold(ObserverKind::Mse, s, o);
    const double mx = max_abs(c.v);
    double best = INFINITY, best_t = 0;
    for (int i = 1; i <= 200; ++i) {
      const double cand = mx * i / 200.0;
      const double e = true_mse(c.v, cand, c.bits);
      if (e < best) best = e, best_t = cand;
    }
    const double chosen = true_mse(c.v, t, c.bits);
    EXPECT_LE(chosen, best * 1.03) << c.name << ": threshold " << t << " (best " << best_t << ", max " << mx << ")";
    std::printf("  mse %-11s threshold %.4g (brute-force best %.4g, max %.4g), mse %.4g vs best %.4g\n", c.name, t,
                best_t, mx, chosen, best);
  }
}

TEST(Observers, UniformKeepsNearlyTheWholeRange) {
  const auto v = uniform(200000, 11);
  const auto s = observe_all(v);
  const double mx = max_abs(v);
  EXPECT_GT(threshold(ObserverKind::Mse, s), 0.97 * mx);
  EXPECT_LE(threshold(ObserverKind::Mse, s), mx * (1 + 1e-6));
  EXPECT_GT(threshold(ObserverKind::Entropy, s), 0.95 * mx);
  EXPECT_LE(threshold(ObserverKind::Entropy, s), mx * (1 + 1e-6));
  EXPECT_GT(threshold(ObserverKind::Percentile, s), 0.999 * mx);
}

// 0.1% huge outliers: percentile (below the outlier mass) and entropy clip at the Gaussian's
// tail; MinMax takes the outlier. MSE keeps it, at any bit width: clipping 0.1% of values by
// ~95 costs ~9 in squared error, more than rounding the whole Gaussian to zero (~1), and
// outliers at exactly +-max sit on the grid. MseClipsRareOutliersAtLowBits shows it clipping.
TEST(Observers, GaussianWithHugeOutliers) {
  auto v = gaussian(400000, 13);
  add_outliers(v, 1e-3, 100.f);
  const auto s = observe_all(v);
  EXPECT_EQ(observer_range(ObserverKind::MinMax, s).hi, 100.f);
  ObserverOptions p;
  p.percentile = 99.8;
  const float tp = threshold(ObserverKind::Percentile, s, p);
  EXPECT_GT(tp, 2.5f);
  EXPECT_LT(tp, 4.0f);
  const float te = threshold(ObserverKind::Entropy, s);
  EXPECT_GT(te, 3.0f);
  EXPECT_LT(te, 12.0f);   // at least 128 of 2048 bins over a range of 128 are kept: 8 + half a bin
  for (int bits : {3, 8}) {
    ObserverOptions o;
    o.bits = bits;
    const float tm = threshold(ObserverKind::Mse, s, o);
    EXPECT_GT(tm, 90.f) << bits;
    EXPECT_LT(true_mse(v, tm, bits), true_mse(v, 4.0, bits)) << bits;
  }
  std::printf("  outliers: percentile(99.8) %.3f entropy %.3f\n", tp, te);
}

// Rare, moderate outliers (0.01% at 30 sigma) at 4 bits: clipping them costs ~0.07, keeping
// them rounds most of the Gaussian to zero (~0.8), so MSE clips near the Gaussian's tail.
TEST(Observers, MseClipsRareOutliersAtLowBits) {
  auto v = gaussian(200000, 23);
  add_outliers(v, 1e-4, 30.f);
  const auto s = observe_all(v);
  ObserverOptions o;
  o.bits = 4;
  const float tm = threshold(ObserverKind::Mse, s, o);
  EXPECT_LT(tm, 6.f);
  EXPECT_GT(tm, 1.5f);
  EXPECT_LT(true_mse(v, tm, 4), 0.2 * true_mse(v, 30.0, 4));
  EXPECT_EQ(observer_range(ObserverKind::MinMax, s).hi, 30.f);
}

TEST(Observers, LaplaceClipsTheTail) {
  const auto v = laplace(400000, 17);
  const auto s = observe_all(v);
  const double mx = max_abs(v);
  const float te = threshold(ObserverKind::Entropy, s), tm = threshold(ObserverKind::Mse, s);
  const float tp = threshold(ObserverKind::Percentile, s);   // 99.99%: b * ln(1e4) = 9.2
  EXPECT_NEAR(tp, std::log(1e4), 0.6);
  EXPECT_LT(tm, 0.9 * mx);
  EXPECT_GT(tm, 5.0);
  EXPECT_LT(te, 0.9 * mx);
  EXPECT_GT(te, 4.0);
  std::printf("  laplace (max %.3f): percentile %.3f mse %.3f entropy %.3f\n", mx, tp, tm, te);
}

// The entropy observer's loop, restated plainly from Migacz's slides over a small histogram
// (bins = 512, 6 bits -> 32 levels): the threshold must be the argmin of this divergence.
TEST(Observers, EntropyIsTheArgminOfTheDivergence) {
  auto v = laplace(50000, 19, 0.5);
  add_outliers(v, 2e-3, 12.f);
  ObserverState s;
  s.hist = AbsHistogram(512);
  s.observe(v.data(), v.size());
  ObserverOptions o;
  o.bits = 6;
  const float t = threshold(ObserverKind::Entropy, s, o);
  const auto& h = s.hist.counts();
  size_t top = h.size();
  while (h[top - 1] == 0) --top;
  const size_t L = 32;
  double best = INFINITY;
  size_t best_i = 0;
  for (size_t i = L; i <= top; ++i) {
    std::vector<double> P(h.begin(), h.begin() + i);
    for (size_t k = i; k < h.size(); ++k) P[i - 1] += h[k];
    std::vector<double> Q(i, 0);
    const size_t m = i / L;
    for (size_t j = 0; j < L; ++j) {
      const size_t a = j * m, b = j == L - 1 ? i : a + m;
      double sum = 0, nz = 0;
      for (size_t k = a; k < b; ++k) sum += h[k], nz += P[k] > 0;
      for (size_t k = a; k < b; ++k) Q[k] = P[k] > 0 ? sum / nz : 0;
    }
    double ps = 0, qs = 0;
    for (size_t k = 0; k < i; ++k) ps += P[k], qs += Q[k];
    const double eps = 1e-4 / i;
    double kl = 0;
    for (size_t k = 0; k < i; ++k)
      if (P[k] > 0) kl += P[k] / ps * std::log((P[k] / ps) / ((Q[k] / qs + eps) / (1 + i * eps)));
    if (kl < best) best = kl, best_i = i;
  }
  const double expect = std::min((best_i + 0.5) * s.hist.bin_width(), s.hist.max_seen());
  EXPECT_FLOAT_EQ(t, static_cast<float>(expect));
  EXPECT_LT(t, 11.f);   // the outliers at 12 are clipped
}

TEST(Observers, FewDistinctValuesKeepTheMax) {
  // Fewer non-empty bins than levels: every value is representable, the threshold is the max.
  ObserverState s;
  const float v[] = {0.f, 0.5f, -1.0f, 1.5f, 3.0f};
  s.observe(v, 5);
  s.hist = AbsHistogram(64);
  s.hist.add(v, 5);
  EXPECT_FLOAT_EQ(threshold(ObserverKind::Entropy, s), 3.0f);
  ObserverOptions bad;
  bad.bits = 1;
  EXPECT_THROW(observer_range(ObserverKind::Mse, s, bad), Error);
  EXPECT_THROW(observer_range(ObserverKind::Entropy, s, bad), Error);
}

}  // namespace
}  // namespace lowbit
