// Dense fp32 matrix products of the forward pass.
//   matmul_f32: Y[t][o] = sum_i W[o][i] * X[t][i]   W: out x in (ggml ne = {in, out}),
//               X: T x in, Y: T x out. T > 1 goes to OpenBLAS sgemm (prompt batches),
//               T == 1 to sgemv (decode); both use every core.
#pragma once

#include <cstdint>

namespace lowbit {

void matmul_f32(const float* W, int64_t in, int64_t out, const float* X, int64_t T, float* Y);
void matmul_f32__ref(const float* W, int64_t in, int64_t out, const float* X, int64_t T, float* Y);

}  // namespace lowbit
