// int8 × int8 matrix products for W8A8 linears (SmoothQuant, Xiao et al. 2022, §3):
// activation rows A (m × k) against weight rows B (n × k), both signed 8-bit, exact int32 dot
// products, then optionally scaled to float by per-row activation and per-row weight scales.
//
//   gemm_s8s8_i32:  C[t·ldc + o] = Σ_{i<k} A[t·lda + i] · B[o·ldb + i]      t < m, o < n
//   gemm_s8s8_f32:  Y[t·n + o]   = (float(C[t][o]) · a_scales[t·a_scale_stride]) · b_scales[o]
//
// Every variant computes the reference's integer sums bit for bit, for every int8 input
// including −128, as long as k ≤ kGemmS8MaxDepth (|a·b| ≤ 2^14, so the true sum of up to
// 2^17 − 1 products fits int32; wider k is rejected by the checked entry points).
//   ref     plain loops in int32.
//   avx2    _mm256_maddubs_epi16(|a|, sign(b, a)): u8 × s8 pairs summed to int16, widened
//           by _mm256_madd_epi16(·, 1). |a| ≤ 128 and sign(b, a) ∈ [−128, 127] keep every
//           pair sum in [−32768, 32512]: maddubs never saturates. The one failure of the
//           sign trick is b = −128 with a < 0 (−(−128) wraps to −128 in int8); weight rows
//           holding −128 take a corrected path: b' = max(b, −127) and the missing
//           Σ_{b_i = −128} −a_i, itself a maddubs of |a| with sign(mask, a).
//   avx512  _mm512_dpbusd_epi32 (VNNI: u8 × s8, four products into int32, no saturation)
//           on a ^ 0x80 = a + 128 (unsigned), minus the offset's contribution 128 · Σ_i b_i,
//           accumulated alongside by dpbusd(1, b). Intermediate sums may wrap; wrapping
//           (two's complement) arithmetic makes the final difference exact anyway.
// The float scaling happens in one shared loop in a fixed operation order, so the float
// results of every variant are identical too.
#pragma once

#include <cstdint>

#include "kernels/cpu.h"

namespace lowbit {

constexpr int64_t kGemmS8MaxDepth = (int64_t{1} << 17) - 1;

using GemmS8S8I32Fn = void (*)(int64_t m, int64_t n, int64_t k, const int8_t* a, int64_t lda, const int8_t* b,
                               int64_t ldb, int32_t* c, int64_t ldc);

struct Int8GemmKernels {
  Isa isa;
  GemmS8S8I32Fn gemm_i32;
  const char* name;  // "gemm_s8s8_i32__avx512"
};

// Unchecked, single-threaded kernels (0 ≤ k ≤ kGemmS8MaxDepth; rows may be unaligned).
void gemm_s8s8_i32__ref(int64_t m, int64_t n, int64_t k, const int8_t* a, int64_t lda, const int8_t* b, int64_t ldb,
                        int32_t* c, int64_t ldc);
void gemm_s8s8_i32__avx2(int64_t m, int64_t n, int64_t k, const int8_t* a, int64_t lda, const int8_t* b, int64_t ldb,
                         int32_t* c, int64_t ldc);
void gemm_s8s8_i32__avx512(int64_t m, int64_t n, int64_t k, const int8_t* a, int64_t lda, const int8_t* b,
                           int64_t ldb, int32_t* c, int64_t ldc);

// Every variant this CPU can run (tests and benchmarks iterate it), best last.
const Int8GemmKernels* int8_gemm_variants(int* count);
// The variant for active_isa().
const Int8GemmKernels& int8_gemm();

// Checked, multi-threaded (OpenMP over tiles of rows; the result does not depend on the
// thread count) products of contiguous row-major matrices: A m × k, B n × k, C / Y m × n.
// a_scale_stride: 1 for one scale per activation row (dynamic per-token quantization),
// 0 for a single per-tensor scale (static quantization). Throws Error on negative sizes or
// k > kGemmS8MaxDepth.
void gemm_s8s8_i32(int64_t m, int64_t n, int64_t k, const int8_t* a, const int8_t* b, int32_t* c);
void gemm_s8s8_f32(int64_t m, int64_t n, int64_t k, const int8_t* a, const float* a_scales, int64_t a_scale_stride,
                   const int8_t* b, const float* b_scales, float* y);

}  // namespace lowbit
