// Quantized dot products: one weight row in a GGUF block format against one activation row
// quantized to that format's partner type (llama.cpp's vec_dot_type): Q8_0 for Q4_0, Q5_0,
// Q8_0, IQ4_NL; Q8_1 for Q4_1, Q5_1; Q8_K for the K-quants, IQ4_XS and TQ1_0/TQ2_0; F16 and
// BF16 activations for F16/BF16 weights (as llama.cpp rounds them), F32 for F32.
//
// Kernels are named dot_<weight>_<activation>__<isa>. Each weight type has a plain
// reference (<type> in qdot_ref_*.cc) beside its AVX2 and AVX-512 variants; integer paths
// compute exactly the reference's integer sums, so they agree to float rounding of the
// per-block scale products (tests: tails, odd block counts, unaligned rows).
#pragma once

#include <cstdint>

#include "core/ggml_type.h"
#include "kernels/cpu.h"

namespace lowbit {

// n: elements in the row (a multiple of the weight type's block size).
using VecDotFn = float (*)(int64_t n, const void* w_row, const void* a_row);

struct QDotKernel {
  GgmlType wtype;
  Isa isa;
  VecDotFn dot;
  const char* name;    // "dot_q4_0_q8_0__avx2"
};

// The activation format a weight type pairs with.
GgmlType act_type_for(GgmlType wtype);
// Converts one activation row to act_type (Q8_0/Q8_1/Q8_K/F16/BF16/F32) as llama.cpp does.
void quantize_activation_row(GgmlType act_type, const float* x, void* y, int64_t n);

// The best kernel for wtype at or below isa (nullptr: no kernel for this type).
const QDotKernel* find_qdot(GgmlType wtype, Isa isa);
// Every kernel this build has, any ISA (tests and benchmarks iterate this list).
const QDotKernel* all_qdot_kernels(int* count);

// Tables contributed by kernel families (qdot_table_*.cc); all_qdot_kernels joins them.
const QDotKernel* qdot_kernels_legacy(int* count);   // F32 F16 BF16 Q4_0 Q4_1 Q5_0 Q5_1 Q8_0 IQ4_NL
const QDotKernel* qdot_kernels_kquants(int* count);  // Q2_K..Q6_K, IQ4_XS, TQ1_0, TQ2_0

}  // namespace lowbit
