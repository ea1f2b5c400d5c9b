// A histogram of |x| over [0, range) with a fixed number of bins whose range grows by
// doubling (adjacent bins merge) when a larger value arrives, so one pass over streaming
// calibration batches suffices (the approach of PyTorch's HistogramObserver, simplified).
// The range is always a power of two: the first non-zero |x| sets it to the smallest power of
// two above that value, so max_seen() < range() <= 2 * max_seen() and any two histograms with
// the same bin count align when merged. Zeros count in bin 0.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

namespace lowbit {

class AbsHistogram {
 public:
  explicit AbsHistogram(int bins = 2048);
  void add(const float* x, size_t n);            // non-finite values are an Error
  void merge(const AbsHistogram& other);
  int bins() const { return static_cast<int>(counts_.size()); }
  double range() const { return range_; }        // upper edge of the last bin (0 = empty)
  double bin_width() const { return range_ / counts_.size(); }
  const std::vector<uint64_t>& counts() const { return counts_; }
  uint64_t total() const { return total_; }
  double max_seen() const { return max_seen_; }

 private:
  void grow_to(double v);
  std::vector<uint64_t> counts_;
  double range_ = 0, max_seen_ = 0;
  uint64_t total_ = 0;
};

}  // namespace lowbit
