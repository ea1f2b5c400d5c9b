#include "kernels/vec_f32.h"

namespace lowbit {

float dot_f32__ref(const float* a, const float* b, int64_t n) {
  double s = 0;  // the reference sums in double: the yardstick for the SIMD variants
  for (int64_t i = 0; i < n; ++i) s += static_cast<double>(a[i]) * b[i];
  return static_cast<float>(s);
}

void axpy_f32__ref(float alpha, const float* x, float* y, int64_t n) {
  for (int64_t i = 0; i < n; ++i) y[i] += alpha * x[i];
}

const VecF32Kernels* vec_f32_variants(int* count) {
  static const VecF32Kernels k[] = {
      {Isa::Ref, dot_f32__ref, axpy_f32__ref},
      {Isa::Avx2, dot_f32__avx2, axpy_f32__avx2},
      {Isa::Avx512, dot_f32__avx512, axpy_f32__avx512},
  };
  *count = static_cast<int>(cpu_best_isa()) + 1;  // only variants this CPU can run
  return k;
}

const VecF32Kernels& vec_f32() {
  int n = 0;
  const VecF32Kernels* k = vec_f32_variants(&n);
  return k[static_cast<int>(active_isa())];
}

}  // namespace lowbit
