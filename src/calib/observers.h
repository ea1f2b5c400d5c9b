// Activation observers: from the statistics gathered over calibration batches, the clipping
// range an activation quantizer should use.
//   MinMax                 the extreme values seen
//   MovingAverageMinMax    per-batch min/max smoothed by an exponential moving average
//                          (PyTorch's MovingAverageMinMaxObserver, c = 0.01)
//   Percentile             the p-th percentile of |x| (default 99.99)
//   Mse                    the threshold minimising the expected squared quantization error
//                          (clipping + rounding) under the observed distribution
//   Entropy                TensorRT's entropy calibrator: the threshold minimising
//                          KL(P || Q) between the clipped reference histogram and its
//                          quantized version (128 levels for int8)
#pragma once

#include <cstdint>
#include <string>

#include "calib/histogram.h"

namespace lowbit {

enum class ObserverKind { MinMax, MovingAverageMinMax, Percentile, Mse, Entropy };
const char* observer_name(ObserverKind k);
bool observer_from_name(const std::string& name, ObserverKind* out);   // "minmax", "ema", "percentile", "mse", "entropy"

struct ObserverState {
  double min = 0, max = 0;           // over everything seen
  double ema_min = 0, ema_max = 0;   // moving averages of per-batch extremes
  bool seen = false;
  uint64_t count = 0;
  AbsHistogram hist;
  void observe(const float* x, size_t n, double ema_c = 0.01);   // one batch
};

struct ObserverOptions {
  double percentile = 99.99;
  int bits = 8;                      // target activation bits (MSE / entropy levels)
};

struct Range {
  float lo = 0, hi = 0;              // symmetric observers give lo = -hi
};

Range observer_range(ObserverKind kind, const ObserverState& s, const ObserverOptions& o = {});

}  // namespace lowbit
