// Batched products of F16 / BF16 weights in the order of llama.cpp's batch kernel for them
// (llamafile tinyBLAS, AVX-512 build), which llama.cpp uses for two or more tokens. Activations
// are first rounded to the weight's type (as ggml converts them to the vec_dot type), then:
//   F16:  y = reduce16(lanes), lane m = Σ over k ≡ m (mod 16) of fma(w_k, x_k, lane) in order
//         (tinyBLAS<16, __m512>: vcvtph2ps loads and fma); row length a multiple of 16.
//   BF16: tinyBLAS<32, __m512bh> with vdpbf16ps: lane m takes, per 32 elements c, the pair
//         (32c + 2m, 32c + 2m + 1): lane = (lane + w·x at 2m+1) + w·x at 2m, each add rounded to
//         nearest even with denormals flushed (the instruction's fixed DAZ/FTZ); products of two
//         bf16 are exact in float. y = reduce16(lanes); row length a multiple of 32.
// The reference computes exactly this in scalar code; the AVX-512 variant uses the same
// instructions llama.cpp does (vdpbf16ps where the CPU has AVX512_BF16), the AVX2 variant
// emulates them eight lanes at a time. All give the same bits.
#pragma once

#include <cstdint>

#include "kernels/cpu.h"
#include "kernels/qmatmul.h"

namespace lowbit {

// Y (T × W.out) = X (T × W.in) · Wᵀ for F16 / BF16 W; false (nothing done) for other types or
// row lengths the kernel does not take (llama.cpp then falls back to its dot products too).
bool fgemm_matmul(const QMatrix& W, const float* X, int64_t T, float* Y, Isa isa);

// One output: row w (W.in values of `type`) against activation row x (already in `type`).
using FgemmDotFn = float (*)(GgmlType type, const uint16_t* w, const uint16_t* x, int64_t n);
float fgemm_dot__ref(GgmlType type, const uint16_t* w, const uint16_t* x, int64_t n);
// AVX2 (+F16C, FMA): vdpbf16ps emulated in 8-lane halves; any CPU with AVX2.
float fgemm_dot__avx2(GgmlType type, const uint16_t* w, const uint16_t* x, int64_t n);
// nullptr when this CPU lacks AVX-512; BF16 through fgemm_dot__avx2 without AVX512_BF16.
FgemmDotFn fgemm_dot__avx512();

}  // namespace lowbit
