#include "kernels/ggml_math.h"
#include "kernels/ggml_math_impl.h"

namespace lowbit::ggml_math {

float reduce16(const float* a) { return reduce16_impl(a); }
float expf_v(float x) { return expf_v_impl(x); }

float dot__ref(const float* x, const float* y, int64_t n) { return dot_f32_impl(x, y, n); }
void softmax__ref(float* s, int64_t n) { softmax_row_impl(s, n); }
void pv__ref(const float* p, const float* v, int64_t n, int64_t stride, int64_t hd, float* out) {
  weighted_sum_v_impl(p, v, n, stride, hd, out);
}
void swiglu__ref(float* gate, const float* up, int64_t n) { swiglu_row_impl(gate, up, n); }
void rope__ref(float* h, const float* cs, const float* sn, int64_t half, int64_t a_step, int64_t b_off) {
  rope_pairs_impl(h, cs, sn, half, a_step, b_off);
}

// Defined in ggml_math_avx2.cc / ggml_math_avx512.cc.
extern const Kernels kAvx2, kAvx512;

const Kernels* variants(int* count) {
  static const Kernels ref = {Isa::Ref, dot__ref, softmax__ref, pv__ref, swiglu__ref, rope__ref, "ggml_math__ref"};
  static const Kernels all[3] = {ref, kAvx2, kAvx512};
  int n = 1;
  if (static_cast<int>(cpu_best_isa()) >= static_cast<int>(Isa::Avx2)) n = 2;
  if (cpu_best_isa() == Isa::Avx512) n = 3;
  *count = n;
  return all;
}

const Kernels& kernels() {
  static const Kernels* k = [] {
    int n = 0;
    const Kernels* v = variants(&n);
    const Kernels* best = &v[0];
    for (int i = 0; i < n; ++i)
      if (static_cast<int>(v[i].isa) <= static_cast<int>(active_isa())) best = &v[i];
    return best;
  }();
  return *k;
}

}  // namespace lowbit::ggml_math
