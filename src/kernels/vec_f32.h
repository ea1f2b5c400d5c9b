// Float vector kernels of the fp32 forward pass, one row per variant in the table below.
//   dot_f32:   sum_i a[i] * b[i]
//   axpy_f32:  y[i] += alpha * x[i]
// Float paths agree with the reference within a few ulps (summation order differs).
#pragma once

#include <cstdint>

#include "kernels/cpu.h"

namespace lowbit {

using DotF32Fn = float (*)(const float* a, const float* b, int64_t n);
using AxpyF32Fn = void (*)(float alpha, const float* x, float* y, int64_t n);

struct VecF32Kernels {
  Isa isa;
  DotF32Fn dot;
  AxpyF32Fn axpy;
};

float dot_f32__ref(const float* a, const float* b, int64_t n);
void axpy_f32__ref(float alpha, const float* x, float* y, int64_t n);
float dot_f32__avx2(const float* a, const float* b, int64_t n);
void axpy_f32__avx2(float alpha, const float* x, float* y, int64_t n);
float dot_f32__avx512(const float* a, const float* b, int64_t n);
void axpy_f32__avx512(float alpha, const float* x, float* y, int64_t n);

// Every variant this build has (tests and benchmarks iterate it), best last.
const VecF32Kernels* vec_f32_variants(int* count);
// The variant for active_isa().
const VecF32Kernels& vec_f32();

}  // namespace lowbit
