// Float operations evaluated in exactly the order llama.cpp's CPU backend evaluates them in its
// AVX-512 builds (ggml-cpu: vec.cpp, vec.h, ops.cpp, llamafile/sgemm.cpp; the zen4 / icelake /
// skylakex variants that llama.cpp loads on AVX-512 machines). The attention and MLP of the
// forward pass use them so that lowbit's activations equal llama.cpp's bit for bit: both engines
// round every activation row to 8 bits before a quantized matrix product, and a last-bit
// difference upstream flips an occasional rounding, which the following layers amplify into
// log-probability differences of ~3e-3 (docs/RESULTS.md).
//
// Each kernel documents the ggml code it follows. The plain reference uses std::fma where ggml's
// vector code or GCC's contraction fuse a product, so every variant gives the same bits on every
// CPU; only speed depends on the ISA.
#pragma once

#include <cstdint>

#include "kernels/cpu.h"

namespace lowbit::ggml_math {

// _mm512_reduce_add_ps as GCC expands it: halves of 8, then 4, then pairs (0+2, 1+3), then 0+1.
float reduce16(const float* a);
// ggml_v_expf (AVX-512): e^x by a degree-5 polynomial on the reduced argument and vscalefps;
// within 2.2 ulp of e^x (measured; ggml_math_test), but not equal to expf.
float expf_v(float x);

// The kernels, one table per ISA (all give the same bits; the plain one is the reference):
//   dot:     ggml_vec_dot_f32 for n floats (AVX-512 build, GCC 11): 64-element steps in four
//            16-lane fma accumulators, reduced ((a0 + a2) + (a1 + a3)) then reduce16; the last
//            n % 64 elements as GCC vectorized the scalar loop `sum += x[i] * y[i]`: blocks of 16,
//            then one of 8, with the products rounded and added one by one, then the last < 8 by
//            scalar fma.
//   softmax: the attention's softmax row (ggml_compute_forward_soft_max_f32 with the causal mask)
//            over the n visible positions' scaled scores s (the masked ones are −inf, exp 0):
//            e = expf_v(s − max); the sum in double, one reduce16 per 16 positions; p = e · (float)(1/sum).
//   pv:      out[d] = Σ_j p[j] · v[j·stride + d], d < hd, as llamafile's tinyBLAS (AVX-512, KN = 16)
//            computes the attention's P·V: lane m accumulates the positions j ≡ m (mod 16) by fma
//            in order, then reduce16. llama.cpp pads the cache to a multiple of 16 and its extra
//            positions add exact zeros, so only the n visible ones are needed.
//   swiglu:  ggml_vec_swiglu_f32: gate[i] = silu(gate[i]) · up[i], silu = x / (1 + expf_v(0 − x))
//            for the blocks of 16 from the row start, x / (1 + expf(−x)) for the last n % 16.
//   rope:    one head's rotation as ggml's rope computes it: GCC contracts x0·cos − x1·sin and
//            x0·sin + x1·cos into one fma each, fusing the x0 product. Pairs (h[i·a_step],
//            h[i·a_step + b_off]) for i < half (adjacent pairs: a_step 2, b_off 1).
struct Kernels {
  Isa isa;
  float (*dot)(const float* x, const float* y, int64_t n);
  void (*softmax)(float* s, int64_t n);
  void (*pv)(const float* p, const float* v, int64_t n, int64_t stride, int64_t hd, float* out);
  void (*swiglu)(float* gate, const float* up, int64_t n);
  void (*rope)(float* h, const float* cs, const float* sn, int64_t half, int64_t a_step, int64_t b_off);
  const char* name;
};
// Every variant this CPU runs, best last (tests compare them); the one for active_isa().
const Kernels* variants(int* count);
const Kernels& kernels();

}  // namespace lowbit::ggml_math
