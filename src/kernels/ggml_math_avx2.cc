// The plain kernels of ggml_math_impl.h compiled for AVX2 + FMA: the same code and bits as the
// reference, with std::fma one instruction instead of a libm call.
#include "kernels/ggml_math.h"
#include "kernels/ggml_math_impl.h"

namespace lowbit::ggml_math {
namespace {

float dot(const float* x, const float* y, int64_t n) { return dot_f32_impl(x, y, n); }
void softmax(float* s, int64_t n) { softmax_row_impl(s, n); }
void pv(const float* p, const float* v, int64_t n, int64_t stride, int64_t hd, float* out) {
  weighted_sum_v_impl(p, v, n, stride, hd, out);
}
void swiglu(float* gate, const float* up, int64_t n) { swiglu_row_impl(gate, up, n); }
void rope(float* h, const float* cs, const float* sn, int64_t half, int64_t a_step, int64_t b_off) {
  rope_pairs_impl(h, cs, sn, half, a_step, b_off);
}

}  // namespace

extern const Kernels kAvx2 = {Isa::Avx2, dot, softmax, pv, swiglu, rope, "ggml_math__avx2"};

}  // namespace lowbit::ggml_math
