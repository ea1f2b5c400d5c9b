#include "kernels/vec_f32.h"

#include <cmath>
#include <random>
#include <vector>

#include <gtest/gtest.h>

namespace lowbit {
namespace {

TEST(VecF32, EveryVariantMatchesReference) {
  int count = 0;
  const VecF32Kernels* ks = vec_f32_variants(&count);
  std::mt19937 rng(1);
  std::normal_distribution<float> nd;
  for (int64_t n : {0, 1, 7, 8, 9, 15, 16, 17, 31, 32, 33, 64, 100, 1000, 4097}) {
    // +1 offsets make the loads unaligned.
    std::vector<float> a(n + 1), b(n + 1), y0(n + 1), y1(n + 1);
    for (auto& v : a) v = nd(rng);
    for (auto& v : b) v = nd(rng);
    for (auto& v : y0) v = nd(rng);
    const float want = dot_f32__ref(a.data() + 1, b.data() + 1, n);
    double mag = 0;
    for (int64_t i = 0; i < n; ++i) mag += std::fabs(a[i + 1] * b[i + 1]);
    for (int k = 0; k < count; ++k) {
      SCOPED_TRACE(isa_name(ks[k].isa));
      EXPECT_NEAR(ks[k].dot(a.data() + 1, b.data() + 1, n), want, 1e-5 * mag + 1e-6) << "n=" << n;
      y1 = y0;
      std::vector<float> yr = y0;
      axpy_f32__ref(0.37f, a.data() + 1, yr.data() + 1, n);
      ks[k].axpy(0.37f, a.data() + 1, y1.data() + 1, n);
      for (int64_t i = 0; i <= n; ++i) EXPECT_NEAR(y1[i], yr[i], 1e-6f * (1 + std::fabs(yr[i])));
    }
  }
}

// Float products summed in double: every variant forms the same products, so only the double
// summation order differs (relative 1e-15 of the magnitude).
TEST(Cpu, ForceIsaClampsToHardware) {
  const Isa best = cpu_best_isa();
  force_isa(Isa::Ref);
  EXPECT_EQ(active_isa(), Isa::Ref);
  force_isa(Isa::Avx512);
  EXPECT_EQ(active_isa(), best == Isa::Avx512 ? Isa::Avx512 : best);
  force_isa(best);
}

}  // namespace
}  // namespace lowbit
