#include "kernels/matmul.h"

#include <cblas.h>

namespace lowbit {

void matmul_f32(const float* W, int64_t in, int64_t out, const float* X, int64_t T, float* Y) {
  if (T == 1) {
    cblas_sgemv(CblasRowMajor, CblasNoTrans, static_cast<int>(out), static_cast<int>(in), 1.0f, W,
                static_cast<int>(in), X, 1, 0.0f, Y, 1);
    return;
  }
  cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, static_cast<int>(T), static_cast<int>(out),
              static_cast<int>(in), 1.0f, X, static_cast<int>(in), W, static_cast<int>(in), 0.0f, Y,
              static_cast<int>(out));
}

void matmul_f32__ref(const float* W, int64_t in, int64_t out, const float* X, int64_t T, float* Y) {
  for (int64_t t = 0; t < T; ++t)
    for (int64_t o = 0; o < out; ++o) {
      double s = 0;
      for (int64_t i = 0; i < in; ++i) s += static_cast<double>(W[o * in + i]) * X[t * in + i];
      Y[t * out + o] = static_cast<float>(s);
    }
}

}  // namespace lowbit
