// W8A8 matrix products (SmoothQuant, Xiao et al. 2022, §4) for I8 weight matrices, lowbit's
// own GGUF extension (llama.cpp has no per-channel int8 type):
//
//   weights      GGUF type I8 (ggml id 24), rows × in int8 codes in [−127, 127], plus one F32
//                scale per row beside it (QMatrix::row_scales): W[o, i] ≈ s_w[o] · q[o, i]
//   activations  quantized here, per call, symmetric int8 in [−127, 127], round half to even:
//                dynamic  per token (row t): s_x[t] = max(max_i |x[t, i]| / 127, FLT_MIN)
//                static   per tensor from the calibration range [lo, hi] (QMatrix::act_lo/hi):
//                         s_x = max(hi / 127, −lo / 127, FLT_MIN), values beyond clamped
//   product      Y[t, o] = (float(Σ_i xq[t, i] · q[o, i]) · s_x[t]) · s_w[o], exact int32
//                sums (kernels/int8_gemm.h, VNNI / AVX2 / plain loops picked at run time)
//
// The activation rounding is exactly smoothquant.h's quantize_activations_int8_per_token /
// _per_tensor (the scale computed in double as affine_params does, then x / s rounded as
// quantize_offset does), so w8a8_matmul equals w8a8_linear bit for bit (w8a8_matmul_test).
#pragma once

#include <cstdint>
#include <vector>

#include "kernels/qmatmul.h"

namespace lowbit {

// W.type must be I8 with W.row_scales set (Error otherwise). X: T × W.in, Y: T × W.out.
// scratch holds the quantized activations between calls.
void w8a8_matmul(const QMatrix& W, const float* X, int64_t T, float* Y, std::vector<uint8_t>& scratch);

// The activation quantizers, for tests: codes (rows × cols) and scales (rows, or 1 static).
void w8a8_quantize_rows_dynamic(const float* X, int64_t rows, int64_t cols, int8_t* q, float* scales);
void w8a8_quantize_rows_static(const float* X, int64_t rows, int64_t cols, float lo, float hi, int8_t* q, float* scale);

}  // namespace lowbit
