// AbsHistogram: |x| binned over [0, range), range always a power of two (or 0 while only
// zeros have been seen), so growing is an integer shift of bin indices and two histograms
// with the same bin count always align.
//
// Range rule: the first non-zero |x| sets range = 2^e, the smallest power of two strictly
// greater than it; a later |x| >= range doubles the range (bin i of the old histogram lands
// in bin i/2, i.e. adjacent pairs merge) as many times as needed. So max_seen() < range() <=
// 2 * max_seen() and at least half of the bins lie below the largest value seen.
#include "calib/histogram.h"

#include <algorithm>
#include <cmath>

#include "core/error.h"

namespace lowbit {

namespace {

// The smallest power of two strictly greater than v (v > 0, finite).
double pow2_above(double v) {
  int e = 0;
  std::frexp(v, &e);          // v = m * 2^e, m in [0.5, 1): 2^e > v >= 2^(e-1)
  return std::ldexp(1.0, e);
}

// log2 of the ratio of two powers of two (hi >= lo > 0).
int doublings(double hi, double lo) { return std::ilogb(hi) - std::ilogb(lo); }

// Moves counts into a histogram `k` doublings wider: bin i -> bin i >> k.
void shift_into(const std::vector<uint64_t>& src, int k, std::vector<uint64_t>& dst) {
  const size_t n = dst.size();
  for (size_t i = 0; i < src.size(); ++i) {
    if (!src[i]) continue;
    const size_t j = k >= 63 ? 0 : (i >> k);
    dst[std::min(j, n - 1)] += src[i];
  }
}

}  // namespace

AbsHistogram::AbsHistogram(int bins) {
  if (bins < 1) fail("AbsHistogram: {} bins (need at least 1)", bins);
  counts_.assign(static_cast<size_t>(bins), 0);
}

void AbsHistogram::grow_to(double v) {
  if (v <= 0) return;
  if (range_ == 0) {
    range_ = pow2_above(v);   // zeros seen so far stay in bin 0, which still holds [0, width)
    return;
  }
  if (v < range_) return;
  const double target = pow2_above(v);
  const int k = doublings(target, range_);
  std::vector<uint64_t> grown(counts_.size(), 0);
  shift_into(counts_, k, grown);
  counts_.swap(grown);
  range_ = target;
}

void AbsHistogram::add(const float* x, size_t n) {
  // Validate the whole batch first, so an error leaves the histogram unchanged.
  double batch_max = 0;
  for (size_t i = 0; i < n; ++i) {
    if (!std::isfinite(x[i]))
      fail("AbsHistogram::add: value {} at index {} of a batch of {} is not finite", x[i], i, n);
    batch_max = std::max(batch_max, static_cast<double>(std::fabs(x[i])));
  }
  grow_to(batch_max);
  const size_t last = counts_.size() - 1;
  if (range_ == 0) {
    counts_[0] += n;   // all zeros
  } else {
    const double scale = counts_.size() / range_;   // exact: both are powers of two times an integer
    for (size_t i = 0; i < n; ++i) {
      const double b = std::fabs(static_cast<double>(x[i])) * scale;
      counts_[std::min(static_cast<size_t>(b), last)]++;
    }
  }
  max_seen_ = std::max(max_seen_, batch_max);
  total_ += n;
}

void AbsHistogram::merge(const AbsHistogram& other) {
  if (other.counts_.size() != counts_.size())
    fail("AbsHistogram::merge: {} bins vs {} bins (histograms must have the same bin count)", other.counts_.size(),
         counts_.size());
  if (other.total_ == 0) return;
  // other's range 2^e is the smallest power of two above its max, so growing to 2^(e-1)
  // gives this histogram a range of at least 2^e (and exactly 2^e if it was smaller).
  grow_to(other.range_ * 0.5);
  const int k = (other.range_ > 0 && range_ > 0) ? doublings(range_, other.range_) : 0;
  shift_into(other.counts_, k, counts_);   // other.range_ == 0: all its counts sit in bin 0
  max_seen_ = std::max(max_seen_, other.max_seen_);
  total_ += other.total_;
}

}  // namespace lowbit
