// The legacy family's kernel list: F32, F16, BF16 and the 32-element block formats, each with
// its reference (qdot_ref_legacy.cc), AVX2 (qdot_legacy_avx2.cc) and AVX-512
// (qdot_legacy_avx512.cc) variant. find_qdot, the tests and the benchmark all read this list,
// so a kernel listed here is dispatched, tested and measured.
#include "kernels/qdot.h"

namespace lowbit {

// Defined in the per-ISA files; this table is the only caller.
float dot_f32_f32__ref(int64_t n, const void* w_row, const void* a_row);
float dot_f32_f32__avx2(int64_t n, const void* w_row, const void* a_row);
float dot_f32_f32__avx512(int64_t n, const void* w_row, const void* a_row);
float dot_f16_f16__ref(int64_t n, const void* w_row, const void* a_row);
float dot_f16_f16__avx2(int64_t n, const void* w_row, const void* a_row);
float dot_f16_f16__avx512(int64_t n, const void* w_row, const void* a_row);
float dot_bf16_bf16__ref(int64_t n, const void* w_row, const void* a_row);
float dot_bf16_bf16__avx2(int64_t n, const void* w_row, const void* a_row);
float dot_bf16_bf16__avx512(int64_t n, const void* w_row, const void* a_row);
float dot_q4_0_q8_0__ref(int64_t n, const void* w_row, const void* a_row);
float dot_q4_0_q8_0__avx2(int64_t n, const void* w_row, const void* a_row);
float dot_q4_0_q8_0__avx512(int64_t n, const void* w_row, const void* a_row);
float dot_q4_1_q8_1__ref(int64_t n, const void* w_row, const void* a_row);
float dot_q4_1_q8_1__avx2(int64_t n, const void* w_row, const void* a_row);
float dot_q4_1_q8_1__avx512(int64_t n, const void* w_row, const void* a_row);
float dot_q5_0_q8_0__ref(int64_t n, const void* w_row, const void* a_row);
float dot_q5_0_q8_0__avx2(int64_t n, const void* w_row, const void* a_row);
float dot_q5_0_q8_0__avx512(int64_t n, const void* w_row, const void* a_row);
float dot_q5_1_q8_1__ref(int64_t n, const void* w_row, const void* a_row);
float dot_q5_1_q8_1__avx2(int64_t n, const void* w_row, const void* a_row);
float dot_q5_1_q8_1__avx512(int64_t n, const void* w_row, const void* a_row);
float dot_q8_0_q8_0__ref(int64_t n, const void* w_row, const void* a_row);
float dot_q8_0_q8_0__avx2(int64_t n, const void* w_row, const void* a_row);
float dot_q8_0_q8_0__avx512(int64_t n, const void* w_row, const void* a_row);
float dot_iq4_nl_q8_0__ref(int64_t n, const void* w_row, const void* a_row);
float dot_iq4_nl_q8_0__avx2(int64_t n, const void* w_row, const void* a_row);
float dot_iq4_nl_q8_0__avx512(int64_t n, const void* w_row, const void* a_row);

namespace {

constexpr QDotKernel kLegacy[] = {
    {GgmlType::F32, Isa::Ref, dot_f32_f32__ref, "dot_f32_f32__ref"},
    {GgmlType::F32, Isa::Avx2, dot_f32_f32__avx2, "dot_f32_f32__avx2"},
    {GgmlType::F32, Isa::Avx512, dot_f32_f32__avx512, "dot_f32_f32__avx512"},
    {GgmlType::F16, Isa::Ref, dot_f16_f16__ref, "dot_f16_f16__ref"},
    {GgmlType::F16, Isa::Avx2, dot_f16_f16__avx2, "dot_f16_f16__avx2"},
    {GgmlType::F16, Isa::Avx512, dot_f16_f16__avx512, "dot_f16_f16__avx512"},
    {GgmlType::BF16, Isa::Ref, dot_bf16_bf16__ref, "dot_bf16_bf16__ref"},
    {GgmlType::BF16, Isa::Avx2, dot_bf16_bf16__avx2, "dot_bf16_bf16__avx2"},
    {GgmlType::BF16, Isa::Avx512, dot_bf16_bf16__avx512, "dot_bf16_bf16__avx512"},
    {GgmlType::Q4_0, Isa::Ref, dot_q4_0_q8_0__ref, "dot_q4_0_q8_0__ref"},
    {GgmlType::Q4_0, Isa::Avx2, dot_q4_0_q8_0__avx2, "dot_q4_0_q8_0__avx2"},
    {GgmlType::Q4_0, Isa::Avx512, dot_q4_0_q8_0__avx512, "dot_q4_0_q8_0__avx512"},
    {GgmlType::Q4_1, Isa::Ref, dot_q4_1_q8_1__ref, "dot_q4_1_q8_1__ref"},
    {GgmlType::Q4_1, Isa::Avx2, dot_q4_1_q8_1__avx2, "dot_q4_1_q8_1__avx2"},
    {GgmlType::Q4_1, Isa::Avx512, dot_q4_1_q8_1__avx512, "dot_q4_1_q8_1__avx512"},
    {GgmlType::Q5_0, Isa::Ref, dot_q5_0_q8_0__ref, "dot_q5_0_q8_0__ref"},
    {GgmlType::Q5_0, Isa::Avx2, dot_q5_0_q8_0__avx2, "dot_q5_0_q8_0__avx2"},
    {GgmlType::Q5_0, Isa::Avx512, dot_q5_0_q8_0__avx512, "dot_q5_0_q8_0__avx512"},
    {GgmlType::Q5_1, Isa::Ref, dot_q5_1_q8_1__ref, "dot_q5_1_q8_1__ref"},
    {GgmlType::Q5_1, Isa::Avx2, dot_q5_1_q8_1__avx2, "dot_q5_1_q8_1__avx2"},
    {GgmlType::Q5_1, Isa::Avx512, dot_q5_1_q8_1__avx512, "dot_q5_1_q8_1__avx512"},
    {GgmlType::Q8_0, Isa::Ref, dot_q8_0_q8_0__ref, "dot_q8_0_q8_0__ref"},
    {GgmlType::Q8_0, Isa::Avx2, dot_q8_0_q8_0__avx2, "dot_q8_0_q8_0__avx2"},
    {GgmlType::Q8_0, Isa::Avx512, dot_q8_0_q8_0__avx512, "dot_q8_0_q8_0__avx512"},
    {GgmlType::IQ4_NL, Isa::Ref, dot_iq4_nl_q8_0__ref, "dot_iq4_nl_q8_0__ref"},
    {GgmlType::IQ4_NL, Isa::Avx2, dot_iq4_nl_q8_0__avx2, "dot_iq4_nl_q8_0__avx2"},
    {GgmlType::IQ4_NL, Isa::Avx512, dot_iq4_nl_q8_0__avx512, "dot_iq4_nl_q8_0__avx512"},
};

}  // namespace

const QDotKernel* qdot_kernels_legacy(int* count) {
  *count = static_cast<int>(sizeof(kLegacy) / sizeof(kLegacy[0]));
  return kLegacy;
}

}  // namespace lowbit
