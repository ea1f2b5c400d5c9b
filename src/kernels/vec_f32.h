// Float vector kernels of the fp32 forward pass, one row per variant in the table below.
//   dot_f32:   sum_i a[i] * b[i]
//   axpy_f32:  y[i] += alpha * x[i]
//   dot_f64acc: sum_i double(a[i] * b[i])  — float products summed in double, as ggml's CPU
//               backend sums short dot products (attention q·k); any summation order gives
//               the same float result but for double rounding (~1e-16 relative)
//   mad_f64acc: acc[i] += double(s * v[i]) — the attention's Σ_j p_j v_j, the same way
// Float paths agree with the reference within a few ulps (summation order differs).
#pragma once

#include <cstdint>

#include "kernels/cpu.h"

namespace lowbit {

using DotF32Fn = float (*)(const float* a, const float* b, int64_t n);
using AxpyF32Fn = void (*)(float alpha, const float* x, float* y, int64_t n);
using DotF64AccFn = float (*)(const float* a, const float* b, int64_t n);
using MadF64AccFn = void (*)(double* acc, float s, const float* v, int64_t n);

struct VecF32Kernels {
  Isa isa;
  DotF32Fn dot;
  AxpyF32Fn axpy;
  DotF64AccFn dot_f64acc;
  MadF64AccFn mad_f64acc;
};

float dot_f32__ref(const float* a, const float* b, int64_t n);
void axpy_f32__ref(float alpha, const float* x, float* y, int64_t n);
float dot_f64acc__ref(const float* a, const float* b, int64_t n);
void mad_f64acc__ref(double* acc, float s, const float* v, int64_t n);
float dot_f32__avx2(const float* a, const float* b, int64_t n);
void axpy_f32__avx2(float alpha, const float* x, float* y, int64_t n);
float dot_f64acc__avx2(const float* a, const float* b, int64_t n);
void mad_f64acc__avx2(double* acc, float s, const float* v, int64_t n);
float dot_f32__avx512(const float* a, const float* b, int64_t n);
void axpy_f32__avx512(float alpha, const float* x, float* y, int64_t n);
float dot_f64acc__avx512(const float* a, const float* b, int64_t n);
void mad_f64acc__avx512(double* acc, float s, const float* v, int64_t n);

// Every variant this build has (tests and benchmarks iterate it), best last.
const VecF32Kernels* vec_f32_variants(int* count);
// The variant for active_isa().
const VecF32Kernels& vec_f32();

}  // namespace lowbit
