// The machine's memory read bandwidth, measured: every thread streams through its own slice
// of one buffer much larger than the last-level cache (1 GiB by default), summing 64-bit
// words; the best of a few runs counts (the least disturbed by other work on the machine).
// This is the ceiling for decoding one token at a time, which must read every weight once:
// decode tokens/s <= bandwidth / bytes read per token (see eval/bench.h).
#pragma once

#include <cstdint>

namespace lowbit {

struct BandwidthOptions {
  uint64_t buffer_bytes = 1ull << 30;
  int runs = 5;
  int threads = 0;   // 0 = OpenMP's current count
};

struct Bandwidth {
  double bytes_per_second = 0;   // best run
  double mean_bytes_per_second = 0;
  uint64_t buffer_bytes = 0;
  uint64_t llc_bytes = 0;        // last-level cache as the OS reports it (0 if unknown)
  int runs = 0, threads = 0;
};

// Allocates and touches the buffer (first touch by the thread that reads it), then times
// `runs` full reads. Error if the buffer cannot be allocated.
Bandwidth measure_read_bandwidth(const BandwidthOptions& opts = {});

}  // namespace lowbit
