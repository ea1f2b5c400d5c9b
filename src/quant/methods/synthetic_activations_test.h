// Test helpers shared by the calibration-method tests: LLM-like activations (a few outlier
// channels 20–60× the rest, a mild per-channel and per-token spread) and plain gaussians.
#pragma once

#include <cmath>
#include <cstdint>
#include <random>
#include <vector>

namespace lowbit::testing_util {

// n tokens × in channels; the outlier channels are the same for every seed (held-out data too).
inline std::vector<float> llm_activations(int64_t n, int64_t in, uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> nd;
  std::vector<float> channel(static_cast<size_t>(in), 1.0f);
  std::mt19937 crng(1234);
  std::uniform_real_distribution<float> mag(20.0f, 60.0f);
  for (int i = 0; i < 8; ++i) channel[crng() % in] = mag(crng);
  for (auto& c : channel) c *= std::exp(0.3f * nd(crng));   // mild spread over the rest
  std::vector<float> X(static_cast<size_t>(n * in));
  for (int64_t t = 0; t < n; ++t) {
    const float tok = std::exp(0.3f * nd(rng));
    for (int64_t j = 0; j < in; ++j) X[static_cast<size_t>(t * in + j)] = tok * channel[static_cast<size_t>(j)] * nd(rng);
  }
  return X;
}

inline std::vector<float> gaussian(int64_t count, float sigma, uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> nd(0.0f, sigma);
  std::vector<float> v(static_cast<size_t>(count));
  for (auto& x : v) x = nd(rng);
  return v;
}

}  // namespace lowbit::testing_util
