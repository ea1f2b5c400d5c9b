// Float operations evaluated in exactly the order llama.cpp's CPU backend evaluates them in its
// AVX-512 builds (ggml-cpu: vec.cpp, vec.h, ops.cpp, llamafile/sgemm.cpp; the zen4 / icelake /
// skylakex variants that llama.cpp loads on AVX-512 machines). The attention and MLP of the
// forward pass use them so that lowbit's activations equal llama.cpp's bit for bit: both engines
// round every activation row to 8 bits before a quantized matrix product, and a last-bit
// difference upstream flips an occasional rounding, which the following layers amplify into
// log-probability differences of ~3e-3 (docs/RESULTS.md).
//
// Each function documents the ggml code it follows. Everything is plain C++ with std::fma (the
// fused products ggml's vector code and GCC's contraction produce), so the results are the same
// on every CPU; the names say which ggml routine each mirrors.
#pragma once

#include <cstdint>

namespace lowbit::ggml_math {

// _mm512_reduce_add_ps as GCC expands it: halves of 8, then 4, then pairs (0+2, 1+3), then 0+1.
float reduce16(const float* a);

// ggml_v_expf (AVX-512): e^x by a degree-5 polynomial on the reduced argument and vscalefps;
// within 1.5 ulp of expf, but not equal to it.
float expf_v(float x);
// ggml_v_silu: x / (1 + e^(0 − x)) with expf_v.
inline float silu_v(float x) { return x / (1.0f + expf_v(0.0f - x)); }

// ggml_vec_dot_f32 for n floats (AVX-512 build, GCC 11): 64-element steps in four 16-lane fma
// accumulators, reduced ((a0 + a2) + (a1 + a3)) then reduce16; the remaining n % 64 elements as
// GCC vectorized the scalar loop `sum += x[i] * y[i]`: blocks of 16, then one of 8, with the
// products rounded and added one by one, then the last < 8 by scalar fma.
float dot_f32(const float* x, const float* y, int64_t n);

// The attention's softmax row (ggml_compute_forward_soft_max_f32 with the causal mask): s[0..n)
// are the scaled scores of the visible positions (the masked ones are −inf, exp 0). exp by
// expf_v of (s − max); the sum in double, one reduce16 per 16 positions; then p = e · (float)(1/sum).
void softmax_row(float* s, int64_t n);

// out[d] = Σ_j p[j] · v[j·stride + d] for d < hd, as llamafile's tinyBLAS (AVX-512, KN = 16)
// computes the attention's P·V product: lane m accumulates positions j ≡ m (mod 16) by fma in
// order, then reduce16. The cache length llama.cpp pads to is a multiple of 16, and its extra
// positions add exact zeros, so only the n visible positions are needed.
void weighted_sum_v(const float* p, const float* v, int64_t n, int64_t stride, int64_t hd, float* out);

// ggml_vec_swiglu_f32: gate[i] = silu(gate[i]) · up[i], silu_v for blocks of 16 from the row
// start, the last n % 16 by x / (1 + expf(−x)).
void swiglu_row(float* gate, const float* up, int64_t n);

}  // namespace lowbit::ggml_math
