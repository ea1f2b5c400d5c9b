#include "kernels/fgemm.h"

#include <omp.h>

#include <cfloat>
#include <cmath>
#include <cstring>
#include <vector>

#include "core/half.h"
#include "kernels/ggml_math.h"
#include "kernels/qdot.h"

namespace lowbit {
namespace {

// vdpbf16ps's fixed denormal handling: a subnormal result becomes a zero of the same sign.
float ftz(float v) { return std::fabs(v) < FLT_MIN ? std::copysign(0.0f, v) : v; }
float daz_bf16(uint16_t b) {
  const float v = bf16_to_f32(b);
  return std::fabs(v) < FLT_MIN ? std::copysign(0.0f, v) : v;
}

}  // namespace

float fgemm_dot__ref(GgmlType type, const uint16_t* w, const uint16_t* x, int64_t n) {
  float lanes[16] = {};
  if (type == GgmlType::F16) {
    for (int64_t k = 0; k < n; ++k) lanes[k % 16] = std::fma(f16_to_f32(w[k]), f16_to_f32(x[k]), lanes[k % 16]);
  } else {
    for (int64_t c = 0; c < n; c += 32)
      for (int m = 0; m < 16; ++m) {
        const int64_t e = c + 2 * m;
        float v = ftz(lanes[m] + daz_bf16(w[e + 1]) * daz_bf16(x[e + 1]));   // exact products
        lanes[m] = ftz(v + daz_bf16(w[e]) * daz_bf16(x[e]));
      }
  }
  return ggml_math::reduce16(lanes);
}

bool fgemm_matmul(const QMatrix& W, const float* X, int64_t T, float* Y, Isa isa) {
  if (W.type != GgmlType::F16 && W.type != GgmlType::BF16) return false;
  if (W.in % (W.type == GgmlType::F16 ? 16 : 32) != 0) return false;
  FgemmDotFn dot = fgemm_dot__ref;
  if (isa == Isa::Avx2 || isa == Isa::Avx512) dot = fgemm_dot__avx2;
  if (isa == Isa::Avx512)
    if (FgemmDotFn f = fgemm_dot__avx512()) dot = f;
  thread_local std::vector<uint16_t> acts;
  acts.resize(static_cast<size_t>(T * W.in));
  for (int64_t t = 0; t < T; ++t) quantize_activation_row(W.type, X + t * W.in, acts.data() + t * W.in, W.in);
  const uint16_t* a = acts.data();
  const int threads = W.in * W.out * T < (1 << 16) ? 1 : omp_get_max_threads();
#pragma omp parallel for schedule(static) num_threads(threads)
  for (int64_t o = 0; o < W.out; ++o) {
    const uint16_t* w = reinterpret_cast<const uint16_t*>(W.data + o * W.row_bytes);
    for (int64_t t = 0; t < T; ++t) Y[t * W.out + o] = dot(W.type, w, a + t * W.in, W.in);
  }
  return true;
}

}  // namespace lowbit
