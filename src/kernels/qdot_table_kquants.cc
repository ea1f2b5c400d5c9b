// The K-quant family's dot-product kernels (weights against Q8_K activations), one row per
// type and ISA: references in qdot_ref_kquants.cc, SIMD variants in qdot_kquants_avx2.cc and
// qdot_kquants_avx512.cc. find_qdot, the tests and the benchmarks all read this table.
//
// Activation contract (what quantize_row_q8_k writes, and what ggml's kernels assume too):
// Q8_K qs in [-127, 127] and bsums[j] = sum of qs[16j .. 16j+15]. The SIMD variants use bsums
// for the -32 / -4 / -1 offsets and the mins; the references use them for the mins only.
#include "kernels/qdot.h"

namespace lowbit {

#define LOWBIT_KQUANT_DECLARE(w)                              \
  float dot_##w##_q8_K__ref(int64_t n, const void* w_row, const void* a_row);    \
  float dot_##w##_q8_K__avx2(int64_t n, const void* w_row, const void* a_row);   \
  float dot_##w##_q8_K__avx512(int64_t n, const void* w_row, const void* a_row);
LOWBIT_KQUANT_DECLARE(q2_K)
LOWBIT_KQUANT_DECLARE(q3_K)
LOWBIT_KQUANT_DECLARE(q4_K)
LOWBIT_KQUANT_DECLARE(q5_K)
LOWBIT_KQUANT_DECLARE(q6_K)
LOWBIT_KQUANT_DECLARE(iq4_xs)
LOWBIT_KQUANT_DECLARE(tq1_0)
LOWBIT_KQUANT_DECLARE(tq2_0)
#undef LOWBIT_KQUANT_DECLARE

const QDotKernel* qdot_kernels_kquants(int* count) {
#define LOWBIT_KQUANT_ROWS(T, w)                                                  \
  {GgmlType::T, Isa::Ref, dot_##w##_q8_K__ref, "dot_" #w "_q8_K__ref"},           \
  {GgmlType::T, Isa::Avx2, dot_##w##_q8_K__avx2, "dot_" #w "_q8_K__avx2"},        \
  {GgmlType::T, Isa::Avx512, dot_##w##_q8_K__avx512, "dot_" #w "_q8_K__avx512"},
  static const QDotKernel k[] = {
      LOWBIT_KQUANT_ROWS(Q2_K, q2_K)
      LOWBIT_KQUANT_ROWS(Q3_K, q3_K)
      LOWBIT_KQUANT_ROWS(Q4_K, q4_K)
      LOWBIT_KQUANT_ROWS(Q5_K, q5_K)
      LOWBIT_KQUANT_ROWS(Q6_K, q6_K)
      LOWBIT_KQUANT_ROWS(IQ4_XS, iq4_xs)
      LOWBIT_KQUANT_ROWS(TQ1_0, tq1_0)
      LOWBIT_KQUANT_ROWS(TQ2_0, tq2_0)
  };
#undef LOWBIT_KQUANT_ROWS
  *count = static_cast<int>(sizeof(k) / sizeof(k[0]));
  return k;
}

}  // namespace lowbit
