// Test helper shared by the kernel tests: T rows of n standard-normal activations.
#pragma once

#include <cstdint>
#include <random>
#include <vector>

namespace lowbit::testing_util {

inline std::vector<float> activations(int64_t T, int64_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> nd(0.0f, 1.0f);
  std::vector<float> x(static_cast<size_t>(T * n));
  for (float& v : x) v = nd(rng);
  return x;
}

}  // namespace lowbit::testing_util
